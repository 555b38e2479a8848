"""SQL for reading the four synced entities: one record, or a filtered page of them.

The typed current tables hold what a query filters on (unit, status, year, household); the
record's ``data`` comes from its current version in ``record_versions`` (the row whose
validity is still open), so a read returns exactly what was pushed, field for field.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select

from server.extensions import db
from server.models import ENTITY_MODELS, RecordVersion, Registration
from server.store.units import within
from sync.actors import Scope


@dataclass(frozen=True)
class RecordFilter:
    """A page of one entity inside ``scope``: ids after ``after``, ``limit`` of them."""

    entity: str
    scope: Scope
    limit: int
    unit: Scope | None = None
    status: str | None = None
    year: int | None = None
    household_id: str | None = None
    include_deleted: bool = False
    after: str | None = None


def get_record(entity: str, record_id: str) -> RecordVersion | None:
    """The current version of one record (deleted or not), or None."""
    query = select(RecordVersion).where(
        RecordVersion.entity == entity,
        RecordVersion.record_id == record_id,
        RecordVersion.valid_to.is_(None),
    )
    return db.session.execute(query).scalar_one_or_none()


def list_records(f: RecordFilter) -> list[RecordVersion]:
    """Up to ``f.limit`` current versions in id order (keyset: ids greater than ``f.after``)."""
    model = ENTITY_MODELS[f.entity]
    query = (
        select(RecordVersion)
        .join(
            model,
            and_(
                RecordVersion.entity == f.entity,
                RecordVersion.record_id == model.id,
                RecordVersion.version == model.version,
            ),
        )
        .where(RecordVersion.valid_to.is_(None), within(f.scope, model))
        .order_by(model.id)
        .limit(f.limit)
    )
    if f.unit is not None:
        query = query.where(within(f.unit, model))
    if not f.include_deleted:
        query = query.where(model.deleted.is_(False))
    if f.after is not None:
        query = query.where(model.id > f.after)
    if f.status is not None:
        query = query.where(model.status == f.status)
    if f.household_id is not None:
        query = query.where(model.household_id == f.household_id)
    if f.year is not None:
        query = query.where(year_condition(f.entity, model, f.year))
    return list(db.session.execute(query).scalars())


def year_condition(entity: str, model, year: int):
    """What ``year`` means per entity; a support item belongs to its registration's year."""
    if entity == "payouts":
        return model.recognized_year == year
    if entity == "registrations":
        return model.year == year
    return model.registration_id.in_(select(Registration.id).where(Registration.year == year))
