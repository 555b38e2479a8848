"""SQL for the commune's desk: registrations by status, with their household, oldest first."""

from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.models import Household, Registration
from server.store.units import within
from sync.actors import Scope


def list_registrations_by_status(scope: Scope, status: str, limit: int = 500) -> list[dict]:
    """Live registrations of ``status`` in ``scope``, oldest received first, with the household.

    The approval queue reads ``submitted``; a collaborator's start page reads ``returned``.
    Registrations of a deleted household are left out: they are out of every report too.
    """
    q = (
        select(
            Registration.id,
            Registration.version,
            Registration.year,
            Registration.kind,
            Registration.members,
            Registration.submitted_at,
            Registration.decided_at,
            Registration.decision_note,
            Registration.commune_code,
            Household.code.label("household_code"),
            Household.head_name,
            Household.village,
        )
        .join(Household, Household.id == Registration.household_id)
        .where(
            within(scope, Registration),
            Registration.status == status,
            Registration.deleted.is_(False),
            Household.deleted.is_(False),
        )
        .order_by(Registration.submitted_at, Registration.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in db.session.execute(q)]
