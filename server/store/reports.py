"""SQL of the reports: one statement per table, aggregated in the database.

Each function returns one row per district in the caller's scope, in unit-code order, all
districts included (a LEFT JOIN from the units), whatever the number of records behind them:
a province of a million households sends back eighteen rows, never the records.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from server.extensions import db
from server.models import Household, Payout, Quota, RecordVersion, Registration, Unit
from server.scope import Scope

UNPAID = ("disbursed", "confirmed", "cancelled")  # a payout in none of these can be late
PAID = ("disbursed", "confirmed")


def count_exit_registrations(year: int, scope: Scope, cutoff: datetime | None) -> list[dict]:
    """Approved exit registrations of ``year`` per district, with the year's quotas and targets.

    Counts each household at most once per kind (its first approval, by ``decided_at``),
    leaves out deleted registrations and those of deleted households, and - with a
    ``cutoff`` (the first instant after the as-of day) - only approvals made before it; a
    record deleted at or after the cutoff still counted then. Approved registrations are
    locked, so their current row is what they were when approved.
    """
    reg = Registration
    approved = select(
        reg.district_code,
        reg.kind,
        reg.members,
        func.row_number()
        .over(partition_by=(reg.household_id, reg.kind), order_by=(reg.decided_at, reg.id))
        .label("nth"),
    ).where(
        reg.year == year,
        reg.status == "approved",
        reg.kind.in_(("exit_poverty", "exit_near_poverty")),
        alive(reg, cutoff),
        household_alive(reg.household_id, cutoff),
        scope.where(reg),
    )
    if cutoff is not None:
        approved = approved.where(reg.decided_at < cutoff)
    approved = approved.subquery()

    def tally(kind: str, value) -> ColumnElement:
        return func.coalesce(func.sum(case((approved.c.kind == kind, value), else_=0)), 0)

    counted = (
        select(
            approved.c.district_code,
            tally("exit_poverty", 1).label("poor_households"),
            tally("exit_poverty", approved.c.members).label("poor_persons"),
            tally("exit_near_poverty", 1).label("near_poor_households"),
            tally("exit_near_poverty", approved.c.members).label("near_poor_persons"),
        )
        .where(approved.c.nth == 1)
        .group_by(approved.c.district_code)
        .subquery()
    )
    district, province = Unit, aliased(Unit)
    quota, target = aliased(Quota), {c: aliased(Quota) for c in ("poor", "near_poor")}
    q = (
        select(
            district.code,
            district.name,
            province.code.label("province_code"),
            province.name.label("province_name"),
            func.coalesce(counted.c.poor_households, 0).label("poor_households"),
            func.coalesce(counted.c.poor_persons, 0).label("poor_persons"),
            func.coalesce(counted.c.near_poor_households, 0).label("near_poor_households"),
            func.coalesce(counted.c.near_poor_persons, 0).label("near_poor_persons"),
            quota.households.label("poor_quota"),
            target["poor"].households.label("poor_target"),
            target["near_poor"].households.label("near_poor_target"),
        )
        .select_from(district)
        .outerjoin(province, province.code == district.parent_code)
        .outerjoin(counted, counted.c.district_code == district.code)
        .where(district.level == "district", districts_in(scope))
        .order_by(district.code)
    )
    # A district's row in quotas is its quota; the province's row is the Resolution 13 target.
    # (The contract reports no district quota for near-poor households.)
    for alias, unit_code, category in (
        (quota, district.code, "poor"),
        (target["poor"], district.parent_code, "poor"),
        (target["near_poor"], district.parent_code, "near_poor"),
    ):
        q = q.outerjoin(
            alias, and_(alias.unit_code == unit_code, alias.year == year, alias.category == category)
        )
    return [dict(row._mapping) for row in db.session.execute(q)]


def sum_payouts(year: int, scope: Scope, as_of: date, cutoff: datetime | None) -> list[dict]:
    """Payouts of households recognised in ``year``, per district, as they stood on ``as_of``.

    Scheduled (not cancelled), disbursed (disbursed or confirmed), confirmed and overdue
    (the contract's ``payout_overdue``: not disbursed, confirmed or cancelled after its due
    date), each as a count and VND, with the median and worst days overdue. ``cutoff`` is
    the first instant after ``as_of``: given, the payouts are read from the versions valid
    then (what the records said that day); ``None`` reads the current state.
    """
    source = (payouts_now(year) if cutoff is None else payouts_then(year, cutoff)).where(
        scope.where(source_scope_columns(cutoff))
    )
    src = source.cte("payout_rows")
    late_days = days_between(as_of, src.c.due_date).label("days")
    is_late = and_(src.c.status.not_in(UNPAID), src.c.due_date < as_of)

    def tally(condition: ColumnElement, value) -> ColumnElement:
        # PostgreSQL sums BIGINT into NUMERIC; VND stay whole numbers.
        return cast(func.coalesce(func.sum(case((condition, value), else_=0)), 0), BigInteger)

    scheduled = src.c.status != "cancelled"
    paid = src.c.status.in_(PAID)
    confirmed = src.c.status == "confirmed"
    summed = (
        select(
            src.c.district_code,
            tally(scheduled, 1).label("scheduled_count"),
            tally(scheduled, src.c.amount_vnd).label("scheduled_vnd"),
            tally(paid, 1).label("disbursed_count"),
            tally(paid, src.c.amount_vnd).label("disbursed_vnd"),
            tally(confirmed, 1).label("confirmed_count"),
            tally(confirmed, src.c.amount_vnd).label("confirmed_vnd"),
            tally(is_late, 1).label("overdue_count"),
            tally(is_late, src.c.amount_vnd).label("overdue_vnd"),
            func.max(case((is_late, late_days), else_=None)).label("worst_days_late"),
        )
        .group_by(src.c.district_code)
        .subquery()
    )
    late = select(src.c.district_code, late_days).where(is_late).cte("late")
    by_district = median_of(late.c.days, late.c.district_code, late).subquery()
    province_median = select(median_of(late.c.days, None, late).subquery().c.median).scalar_subquery()
    district, province = Unit, aliased(Unit)
    q = (
        select(
            district.code,
            district.name,
            province.code.label("province_code"),
            province.name.label("province_name"),
            *[
                func.coalesce(c, 0).label(c.name)
                for c in summed.c
                if c.name not in ("district_code", "worst_days_late")
            ],
            summed.c.worst_days_late,
            by_district.c.median.label("median_days_late"),
            province_median.label("all_median_days_late"),
        )
        .select_from(district)
        .outerjoin(province, province.code == district.parent_code)
        .outerjoin(summed, summed.c.district_code == district.code)
        .outerjoin(by_district, by_district.c.group_key == district.code)
        .where(district.level == "district", districts_in(scope))
        .order_by(district.code)
    )
    return [dict(row._mapping) for row in db.session.execute(q)]


def payouts_now(year: int):
    """The current payouts of ``year``: not deleted, their household not deleted."""
    return select(
        Payout.district_code,
        Payout.amount_vnd,
        Payout.status,
        Payout.due_date,
    ).where(
        Payout.recognized_year == year,
        Payout.deleted == false(),
        household_alive(Payout.household_id, None),
    )


def payouts_then(year: int, cutoff: datetime):
    """The payouts of ``year`` as their versions stood just before ``cutoff``.

    A version holds from ``valid_from`` until ``valid_to``; the one that held at the cutoff
    began before it and had not ended. Its data is JSON, read with the portable JSON
    accessors; ``due_date`` is ISO text, made a date for PostgreSQL's date arithmetic.
    """
    rv = RecordVersion
    data = rv.data
    return select(
        rv.district_code,
        data["amount_vnd"].as_integer().label("amount_vnd"),
        data["status"].as_string().label("status"),
        as_date(data["due_date"].as_string()).label("due_date"),
    ).where(
        rv.entity == "payouts",
        rv.valid_from < cutoff,
        or_(rv.valid_to.is_(None), rv.valid_to >= cutoff),
        rv.deleted == false(),
        data["recognized_year"].as_integer() == year,
        household_alive(data["household_id"].as_string(), cutoff),
    )


def source_scope_columns(cutoff: datetime | None):
    """The table whose commune/district codes scope the payout rows."""
    return Payout if cutoff is None else RecordVersion


def median_of(value: ColumnElement, group: ColumnElement | None, source) -> select:
    """Median of ``value`` per ``group`` (one group when ``None``), in portable SQL.

    Neither SQLite nor the SQL standard both sides share has a median aggregate, so rank
    the values and average the middle one (odd count) or two (even count).
    """
    key = group if group is not None else literal("*")
    partition = {"partition_by": group} if group is not None else {}
    ranked = select(
        key.label("group_key"),
        value.label("value"),
        func.row_number().over(order_by=value, **partition).label("rn"),
        func.count().over(**partition).label("n"),
    ).subquery()
    middle = ranked.c.rn.in_(((ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2))
    return (
        select(ranked.c.group_key, func.avg(ranked.c.value).label("median"))
        .where(middle)
        .group_by(ranked.c.group_key)
    )


def alive(model, cutoff: datetime | None) -> ColumnElement[bool]:
    """Not deleted - or, as of ``cutoff``, not yet deleted then."""
    if cutoff is None:
        return model.deleted == false()
    return or_(model.deleted == false(), model.deleted_at >= cutoff)


def household_alive(household_id: ColumnElement, cutoff: datetime | None) -> ColumnElement[bool]:
    """The household is not deleted (as of ``cutoff``): a deleted household leaves every report.

    Written as NOT EXISTS over the deleted households only (a partial index holds them), so
    the database never joins the full household table to the registrations.
    """
    gone = exists().where(Household.id == household_id, Household.deleted == true())
    if cutoff is not None:
        gone = gone.where(Household.deleted_at < cutoff)
    return ~gone


def districts_in(scope: Scope) -> ColumnElement[bool]:
    """The district units a province or district scope covers (reports refuse commune scopes)."""
    if scope.level == "district":
        return Unit.code == scope.unit_code
    return true()


def as_date(text: ColumnElement) -> ColumnElement:
    """An ISO date string as a date: PostgreSQL casts, SQLite's dates are that text already."""
    if dialect_name() == "postgresql":
        return cast(text, Date)
    return type_coerce(text, Date)


def days_between(later: date, earlier: ColumnElement) -> ColumnElement:
    """Whole days from ``earlier`` (a date column) to the day ``later``."""
    if dialect_name() == "postgresql":
        return literal(later, Date) - earlier
    return cast(func.julianday(later.isoformat()) - func.julianday(earlier), Integer)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name
