"""SQL for the district's desk: households with their support plan and payouts."""

from __future__ import annotations

from sqlalchemy import case, func, or_, select

from server.extensions import db
from server.models import Household, Payout, Registration, SupportItem
from server.store.units import within
from sync.actors import Scope
from sync.lifecycles import DELIVERED, PAYOUT_LIFE, SUPPORT_ITEM_LIFE

PAID = PAYOUT_LIFE.ordered(PAYOUT_LIFE.paid)
OPEN_PAYOUT = PAYOUT_LIFE.ordered(PAYOUT_LIFE.waiting)


def list_households(
    scope: Scope, commune_code: str | None = None, search: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[dict], int]:
    """One page of live households in ``scope`` (by commune, then code) and the total count.

    Each row carries its support items (planned / delivered) and payouts (count, VND paid,
    VND still open), aggregated per household in one query.
    """
    conditions = [within(scope, Household), Household.deleted.is_(False)]
    if commune_code:
        conditions.append(Household.commune_code == commune_code)
    if search:
        pattern = f"%{search.strip().lower()}%"
        conditions.append(
            or_(func.lower(Household.code).like(pattern), func.lower(Household.head_name).like(pattern))
        )
    total = db.session.execute(select(func.count()).select_from(Household).where(*conditions)).scalar_one()
    support = (
        select(
            SupportItem.household_id,
            func.sum(case((SupportItem.status == SUPPORT_ITEM_LIFE.initial, 1), else_=0)).label(
                "support_planned"
            ),
            func.sum(case((SupportItem.status == DELIVERED, 1), else_=0)).label("support_delivered"),
        )
        .where(SupportItem.deleted.is_(False))
        .group_by(SupportItem.household_id)
        .subquery()
    )
    payouts = (
        select(
            Payout.household_id,
            func.count().label("payouts"),
            func.sum(case((Payout.status.in_(PAID), Payout.amount_vnd), else_=0)).label("paid_vnd"),
            func.sum(case((Payout.status.in_(OPEN_PAYOUT), Payout.amount_vnd), else_=0)).label("open_vnd"),
        )
        .where(Payout.deleted.is_(False))
        .group_by(Payout.household_id)
        .subquery()
    )
    q = (
        select(
            Household.id,
            Household.code,
            Household.head_name,
            Household.village,
            Household.commune_code,
            Household.category,
            Household.members,
            func.coalesce(support.c.support_planned, 0).label("support_planned"),
            func.coalesce(support.c.support_delivered, 0).label("support_delivered"),
            func.coalesce(payouts.c.payouts, 0).label("payouts"),
            func.coalesce(payouts.c.paid_vnd, 0).label("paid_vnd"),
            func.coalesce(payouts.c.open_vnd, 0).label("open_vnd"),
        )
        .outerjoin(support, support.c.household_id == Household.id)
        .outerjoin(payouts, payouts.c.household_id == Household.id)
        .where(*conditions)
        .order_by(Household.commune_code, Household.code, Household.id)
        .offset(offset)
        .limit(limit)
    )
    return [dict(row._mapping) for row in db.session.execute(q)], total


def list_household_records(household_id: str) -> dict[str, list[dict]]:
    """The household's live registrations, support items and payouts (id, version and fields)."""
    out: dict[str, list[dict]] = {}
    for name, model, order in (
        ("registrations", Registration, (Registration.year, Registration.submitted_at)),
        ("support_items", SupportItem, (SupportItem.due_date, SupportItem.created_at)),
        ("payouts", Payout, (Payout.due_date, Payout.created_at)),
    ):
        q = (
            select(model)
            .where(model.household_id == household_id, model.deleted.is_(False))
            .order_by(*order, model.id)
        )
        out[name] = [row_dict(row) for row in db.session.execute(q).scalars()]
    return out


def row_dict(row) -> dict:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def get_household_labels(ids: list[str]) -> dict[str, dict]:
    """Code and head of each household among ``ids`` (for lists that only hold the id)."""
    if not ids:
        return {}
    q = select(Household.id, Household.code, Household.head_name).where(Household.id.in_(set(ids)))
    return {row.id: {"code": row.code, "head_name": row.head_name} for row in db.session.execute(q)}
