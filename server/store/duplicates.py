"""SQL for possible duplicates (``sync.duplicates``): the candidates of a batch's households,
and the cases, read and listed in scope.

A batch's candidates are one statement: the households of the batch's communes sharing a
code, a head's name key or a phone key with one of the batch's (``ix_households_commune_*``
serve each branch of the OR), whatever the number of households in the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import insert, or_, select, update

from server.extensions import db
from server.models import DuplicateCase as CaseRow
from server.models import Household
from server.store.units import within
from sync.actors import Scope
from sync.duplicates import OPEN, DuplicateCase, HouseholdFacts, fold


def find_candidates(households: Sequence[HouseholdFacts]) -> list[HouseholdFacts]:
    """Households not deleted in the communes of ``households`` that share one of their keys
    (a superset of the matches: a code of one commune may equal a name key of another)."""
    communes = sorted({h.commune_code for h in households})
    keys = {
        Household.code: {h.code for h in households if h.code},
        Household.head_name_key: {h.head_name_key for h in households if h.head_name_key},
        Household.phone_key: {h.phone_key for h in households if h.phone_key},
    }
    matches = [column.in_(sorted(values)) for column, values in keys.items() if values]
    if not matches:
        return []
    h = Household
    q = select(
        h.id, h.commune_code, h.district_code, h.code, h.village, h.head_name_key, h.members, h.phone_key
    ).where(h.commune_code.in_(communes), h.deleted.is_(False), or_(*matches))
    return [
        HouseholdFacts(
            id=row.id,
            commune_code=row.commune_code,
            district_code=row.district_code,
            code=row.code or None,
            village=fold(row.village),
            head_name_key=row.head_name_key,
            members=row.members,
            phone_key=row.phone_key,
        )
        for row in db.session.execute(q)
    ]


def case_from_row(row: CaseRow) -> DuplicateCase:
    return DuplicateCase(
        id=row.id,
        households=(row.household_a, row.household_b),
        reasons=tuple(row.reasons),
        commune_code=row.commune_code,
        district_code=row.district_code,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        status=row.status,
        decision=row.decision,
        kept_id=row.kept_id,
        settled_by=row.settled_by,
        settled_at=row.settled_at,
    )


def case_columns(case: DuplicateCase) -> dict:
    first, second = case.households
    return {
        "id": case.id,
        "household_a": first,
        "household_b": second,
        "reasons": list(case.reasons),
        "commune_code": case.commune_code,
        "district_code": case.district_code,
        "opened_at": case.opened_at,
        "opened_by": case.opened_by,
        "status": case.status,
        "decision": case.decision,
        "kept_id": case.kept_id,
        "settled_by": case.settled_by,
        "settled_at": case.settled_at,
    }


def get_cases(case_ids: Iterable[str]) -> dict[str, DuplicateCase]:
    """The cases among ``case_ids`` that exist, by id (one statement)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    q = select(CaseRow).where(CaseRow.id.in_(ids))
    return {row.id: case_from_row(row) for row in db.session.execute(q).scalars()}


def get_case_to_settle(case_id: str) -> DuplicateCase | None:
    """The case, its row locked until commit (PostgreSQL; SQLite writers are serialised), so
    two officials settling one pair at once take turns and the second finds it settled."""
    q = select(CaseRow).where(CaseRow.id == case_id)
    if db.session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = db.session.execute(q).scalar()
    return case_from_row(row) if row is not None else None


def create_cases(cases: list[DuplicateCase]) -> None:
    """Insert new cases in one statement (a pair's id taken meanwhile fails the transaction,
    which is retried and then finds it)."""
    if cases:
        db.session.execute(insert(CaseRow), [case_columns(case) for case in cases])


def save_settlement(case: DuplicateCase) -> None:
    values = case_columns(case)
    db.session.execute(update(CaseRow).where(CaseRow.id == case.id).values(**values))


def list_cases(
    scope: Scope,
    *,
    unit: Scope | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[DuplicateCase]:
    """Cases inside ``scope`` (and ``unit``), in id order, after the id ``after``."""
    q = select(CaseRow).where(within(scope, CaseRow)).order_by(CaseRow.id).limit(limit)
    if unit is not None:
        q = q.where(within(unit, CaseRow))
    if status:
        q = q.where(CaseRow.status == status)
    if after is not None:
        q = q.where(CaseRow.id > after)
    return [case_from_row(row) for row in db.session.execute(q).scalars()]


def list_open_cases(scope: Scope) -> list[DuplicateCase]:
    """The open cases inside ``scope``, oldest first (the commune official's page)."""
    q = (
        select(CaseRow)
        .where(within(scope, CaseRow), CaseRow.status == OPEN)
        .order_by(CaseRow.opened_at, CaseRow.id)
    )
    return [case_from_row(row) for row in db.session.execute(q).scalars()]
