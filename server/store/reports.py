"""SQL of the reports: one statement per table, aggregated in the database.

Each function returns one row per district in the caller's scope, in unit-code order, all
districts included (a LEFT JOIN from the units), whatever the number of records behind them:
a province of a million households sends back eighteen rows, never the records.

The statements are shaped so that a province never sorts its records: counting each
household once walks an index already in household order, and medians are read from a
histogram of days rather than from the sorted payouts (see each function).
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
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from server.extensions import db
from server.models import Household, Payout, Quota, RecordVersion, Registration, Unit
from server.store.units import within
from sync.actors import Scope
from sync.lifecycles import CANCELLED, CONFIRMED, PAYOUT_LIFE, PLANNABLE_FORMS

KINDS = {"exit_poverty": "poor", "exit_near_poverty": "near_poor"}
SETTLED = PAYOUT_LIFE.ordered(PAYOUT_LIFE.settled)  # a payout in none of these can be late
PAID = PAYOUT_LIFE.ordered(PAYOUT_LIFE.paid)
(APPROVED_FORM,) = PLANNABLE_FORMS  # what an exit counts: the approved form


def count_exit_registrations(year: int, scope: Scope, cutoff: datetime | None) -> list[dict]:
    """Approved exit registrations of ``year`` per district, with the year's quotas and targets.

    Counts each household at most once per kind (its first approval, by ``decided_at``),
    leaves out deleted registrations and those of deleted households, and - with a
    ``cutoff`` (the first instant after the as-of day) - only approvals made before it; a
    record deleted at or after the cutoff still counted then. Approved registrations are
    locked, so their current row is what they were when approved.

    "Once per household" keeps each household's first approval in household order, which
    ``ix_registrations_exit_report`` delivers without a sort; on PostgreSQL the deleted
    households (``ix_households_deleted``, in id order too) are left out by a merge anti-join
    in the same pass. Nothing sorts or hashes the province's registrations.
    """
    signed = first_approvals(year, scope, cutoff)
    first = signed.c.nth == 1

    def tally(kind: str, value) -> ColumnElement:
        counted = case((and_(first, signed.c.kind == kind), value), else_=0)
        return cast(func.coalesce(func.sum(counted), 0), BigInteger)

    counted = (
        select(
            signed.c.district_code,
            *[
                tally(kind, value).label(f"{category}_{measure}")
                for kind, category in KINDS.items()
                for measure, value in (("households", 1), ("persons", signed.c.members))
            ],
        )
        .group_by(signed.c.district_code)
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
            *[
                func.coalesce(counted.c[name], 0).label(name)
                for name in ("poor_households", "poor_persons", "near_poor_households", "near_poor_persons")
            ],
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


def first_approvals(year: int, scope: Scope, cutoff: datetime | None):
    """Approved registrations of living households, numbered per household and kind.

    ``nth`` = 1 is a household's first approval of that kind (by ``decided_at``). PostgreSQL
    keeps only those, with DISTINCT ON (a Unique node over the index order, half the work of
    a window); SQLite numbers every approval with a window.
    """
    reg = Registration
    household_order = (reg.household_id, reg.kind, reg.decided_at, reg.id)
    if dialect_name() == "postgresql":
        q = (
            select(reg.district_code, reg.kind, reg.members, literal(1).label("nth"))
            .ext(distinct_on(reg.household_id, reg.kind))
            .order_by(*household_order)
        )
    else:
        nth = func.row_number().over(partition_by=household_order[:2], order_by=household_order[2:])
        q = select(reg.district_code, reg.kind, reg.members, nth.label("nth"))
    q = q.where(
        reg.year == year,
        reg.status == APPROVED_FORM,
        reg.kind.in_(tuple(KINDS)),
        alive(reg, cutoff),
        household_alive(reg.household_id, cutoff),
        within(scope, reg),
    )
    if cutoff is not None:
        q = q.where(reg.decided_at < cutoff)
    return q.subquery()


def sum_payouts(year: int, scope: Scope, as_of: date, cutoff: datetime | None) -> list[dict]:
    """Payouts of households recognised in ``year``, per district, as they stood on ``as_of``.

    Scheduled (not cancelled), disbursed (disbursed or confirmed), confirmed and overdue
    (the contract's ``payout_overdue``: not disbursed, confirmed or cancelled after its due
    date), each as a count and VND, with the median and worst days overdue. ``cutoff`` is
    the first instant after ``as_of``: given, the payouts are read from the versions valid
    then (what the records said that day); ``None`` reads the current state.

    One pass groups the payouts by district, status and days overdue, with two aggregates;
    everything else - the measures, the medians - is read from those few thousand groups.
    """
    if cutoff is None:
        src = payouts_now(year).where(within(scope, Payout)).subquery()
    else:
        src = payouts_then(year, cutoff, scope).subquery()
    is_late = and_(src.c.status.not_in(SETTLED), src.c.due_date < as_of)
    with_days = select(
        src.c.district_code,
        src.c.status,
        src.c.amount_vnd,
        case((is_late, days_between(as_of, src.c.due_date)), else_=null()).label("days_late"),
    ).subquery()
    # The one pass over the payouts: a count and a sum per district, status and days late.
    by_day = (
        select(
            with_days.c.district_code,
            with_days.c.status,
            with_days.c.days_late,
            func.count().label("n"),
            func.sum(with_days.c.amount_vnd).label("vnd"),
        )
        .group_by(with_days.c.district_code, with_days.c.status, with_days.c.days_late)
        .cte("by_day")
    )
    status, late = by_day.c.status, by_day.c.days_late.is_not(None)
    measures = {
        "scheduled": status != CANCELLED,
        "disbursed": status.in_(PAID),
        "confirmed": status == CONFIRMED,
        "overdue": late,
    }
    summed = (
        select(
            by_day.c.district_code,
            *[
                cast(func.sum(case((condition, by_day.c[column]), else_=0)), BigInteger).label(f"{m}_{unit}")
                for m, condition in measures.items()
                for unit, column in (("count", "n"), ("vnd", "vnd"))
            ],
            func.max(by_day.c.days_late).label("worst_days_late"),
        )
        .group_by(by_day.c.district_code)
        .subquery()
    )
    late = by_day.c.days_late.is_not(None)
    per_district = histogram_median(
        select(
            by_day.c.district_code.label("key"),
            by_day.c.days_late.label("days"),
            by_day.c.n,
        )
        .where(late)
        .subquery()
    ).subquery()
    everywhere = (
        select(
            literal("*").label("key"),
            by_day.c.days_late.label("days"),
            func.sum(by_day.c.n).label("n"),
        )
        .where(late)
        .group_by(by_day.c.days_late)
        .subquery()
    )
    province_median = select(histogram_median(everywhere).subquery().c.median_x2).scalar_subquery()
    district, province = Unit, aliased(Unit)
    q = (
        select(
            district.code,
            district.name,
            province.code.label("province_code"),
            province.name.label("province_name"),
            *[func.coalesce(c, 0).label(c.name) for c in summed.c if c.name.endswith(("_count", "_vnd"))],
            summed.c.worst_days_late,
            per_district.c.median_x2.label("median_days_late_x2"),
            province_median.label("all_median_days_late_x2"),
        )
        .select_from(district)
        .outerjoin(province, province.code == district.parent_code)
        .outerjoin(summed, summed.c.district_code == district.code)
        .outerjoin(per_district, per_district.c.key == district.code)
        .where(district.level == "district", districts_in(scope))
        .order_by(district.code)
    )
    return [dict(row._mapping) for row in db.session.execute(q)]


def payouts_now(year: int, cutoff: datetime | None = None):
    """The current payouts of ``year``: not deleted, their household not deleted (by ``cutoff``)."""
    return select(Payout.district_code, Payout.amount_vnd, Payout.status, Payout.due_date).where(
        Payout.recognized_year == year,
        Payout.deleted == false(),
        household_alive(Payout.household_id, cutoff),
    )


def payouts_then(year: int, cutoff: datetime, scope: Scope):
    """The payouts of ``year`` as they stood just before ``cutoff``.

    A payout whose current version began before the cutoff was already what it is now: its
    typed row is read. Only those changed since are read from the version that held at the
    cutoff (began before it, ended after it) - its data is JSON, read with the portable
    accessors, ``due_date`` made a date for PostgreSQL's date arithmetic. Reading every
    payout's JSON instead costs three times as much on a province.
    """
    unchanged = payouts_now(year, cutoff).where(Payout.updated_at < cutoff, within(scope, Payout))
    rv, data = RecordVersion, RecordVersion.data
    changed_since = select(
        rv.district_code,
        data["amount_vnd"].as_integer().label("amount_vnd"),
        data["status"].as_string().label("status"),
        as_date(data["due_date"].as_string()).label("due_date"),
    ).where(
        rv.entity == "payouts",
        rv.valid_from < cutoff,
        rv.valid_to >= cutoff,
        rv.deleted == false(),
        data["recognized_year"].as_integer() == year,
        household_alive(data["household_id"].as_string(), cutoff),
        within(scope, rv),
    )
    return union_all(unchanged, changed_since)


def histogram_median(histogram):
    """Twice the median per ``key`` of a histogram (``key``, ``days``, ``n`` values of days).

    Neither SQLite nor PostgreSQL share a median aggregate, and sorting every late payout to
    find the middle one costs what the rest of the report costs. The histogram's running
    total places each day value at positions ``before+1 .. upto``; the median is the mean
    of the values at positions (n+1) div 2 and (n+2) div 2 - returned as their sum, so it
    stays a whole number; halve it to read it.
    """
    h = histogram.c
    running = select(
        h.key,
        h.days,
        h.n,
        cast(func.sum(h.n).over(partition_by=h.key, order_by=h.days, rows=(None, 0)), BigInteger).label(
            "upto"
        ),
        cast(func.sum(h.n).over(partition_by=h.key), BigInteger).label("total"),
    ).subquery()
    r = running.c

    def value_at(position: ColumnElement) -> ColumnElement:
        return func.max(case((and_(r.upto - r.n < position, position <= r.upto), r.days), else_=null()))

    lower, upper = (r.total + 1) // 2, (r.total + 2) // 2
    return select(r.key, (value_at(lower) + value_at(upper)).label("median_x2")).group_by(r.key)


def alive(model, cutoff: datetime | None) -> ColumnElement[bool]:
    """Not deleted - or, as of ``cutoff``, not yet deleted then."""
    if cutoff is None:
        return model.deleted == false()
    return or_(model.deleted == false(), model.deleted_at >= cutoff)


def deleted_before(model, cutoff: datetime | None) -> ColumnElement[bool]:
    """Deleted - and, as of ``cutoff``, deleted before it."""
    if cutoff is None:
        return model.deleted == true()
    return and_(model.deleted == true(), model.deleted_at < cutoff)


def household_alive(household_id: ColumnElement, cutoff: datetime | None) -> ColumnElement[bool]:
    """The household is not deleted (as of ``cutoff``): a deleted household leaves every report.

    NOT EXISTS over the deleted households only (``ix_households_deleted`` holds them), so
    the database hashes those few rather than joining every household.
    """
    return ~exists().where(Household.id == household_id, deleted_before(Household, cutoff))


def districts_in(scope: Scope) -> ColumnElement[bool]:
    """The district units a province or district scope covers (reports refuse commune scopes)."""
    if scope.level == "district":
        return Unit.code == scope.code
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
