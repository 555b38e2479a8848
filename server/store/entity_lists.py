"""SQL for the entity lists phones select from (``server/odk/entity_lists.py`` writes the CSVs).

Read from the typed current tables: every column a list needs is there, so one query per
list, inside the user's scope, leaves deleted records out.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from server.extensions import db
from server.models import ENTITY_MODELS, AuditEntry, Household, RecordVersion, Registration, Unit, User
from server.store.units import within
from sync.actors import Scope

# The order a phone shows a list in: households by village and head, the rest by due day.
_ORDER = {
    "households": lambda m: (m.commune_code, m.village, m.head_name, m.code, m.id),
    "registrations": lambda m: (m.year, m.id),
    "support_items": lambda m: (m.due_date, m.id),
    "payouts": lambda m: (m.disbursed_on, m.id),
}


def list_entity_rows(
    entity: str,
    scope: Scope,
    statuses: Iterable[str] | None = None,
    ids: Iterable[str] | None = None,
) -> list[dict]:
    """Live records of ``entity`` inside ``scope`` as dicts of their columns, in list order.

    ``statuses`` keeps only records in one of them; ``ids`` only those records. A
    registration row also carries its household's ``head_name`` (for its label).
    """
    model = ENTITY_MODELS[entity]
    columns = [*model.__table__.columns]
    query = select(*columns)
    if entity == "registrations":
        query = query.add_columns(Household.head_name).outerjoin(
            Household, Household.id == Registration.household_id
        )
    query = query.where(within(scope, model), model.deleted.is_(False)).order_by(*_ORDER[entity](model))
    if statuses is not None:
        query = query.where(model.status.in_(list(statuses)))
    if ids is not None:
        query = query.where(model.id.in_(list(ids)))
    return [dict(row._mapping) for row in db.session.execute(query)]


def list_communes_in(scope: Scope) -> list[dict]:
    """The communes inside ``scope`` (``id`` = code, ``label`` = name), in code order."""
    query = select(Unit.code, Unit.name, Unit.parent_code).where(Unit.level == "commune").order_by(Unit.code)
    if scope.level == "district":
        query = query.where(Unit.parent_code == scope.code)
    elif scope.level == "commune":
        query = query.where(Unit.code == scope.code)
    return [
        {"id": row.code, "label": row.name, "district_code": row.parent_code}
        for row in db.session.execute(query)
    ]


def list_version_authors(entity: str, ids: list[str]) -> dict[tuple[str, int], int | None]:
    """Who wrote each version of these records: ``{(record id, version): user id}`` (audit)."""
    if not ids:
        return {}
    query = select(AuditEntry.record_id, AuditEntry.version, AuditEntry.user_id).where(
        AuditEntry.entity == entity, AuditEntry.record_id.in_(ids), AuditEntry.version.is_not(None)
    )
    return {(row.record_id, row.version): row.user_id for row in db.session.execute(query)}


def list_user_names(user_ids: Iterable[int]) -> dict[int, str]:
    """Display names (or usernames) of these users."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    query = select(User.id, User.display_name, User.username).where(User.id.in_(wanted))
    return {row.id: row.display_name or row.username for row in db.session.execute(query)}


def get_record_data(entity: str, record_id: str) -> dict | None:
    """The current version's full ``data`` of a record (None when there is none)."""
    query = select(RecordVersion.data).where(
        RecordVersion.entity == entity, RecordVersion.record_id == record_id, RecordVersion.valid_to.is_(None)
    )
    return db.session.execute(query).scalar_one_or_none()
