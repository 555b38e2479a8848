"""SQL for the delay audit (``GET /api/v1/delays``): what was late on a given day, and where.

Each kind of delay is one SELECT over a *source* of records: the typed current tables when
``as_of`` is today or later, or - for a past day - the versions kept in ``record_versions``
that were valid at the end of that programme day (``valid_from`` before midnight, ``valid_to``
open or after it), read from their JSON ``data``. Both sources expose the same columns, so
the rules (``sync/delays.py``) are written once. The kinds are joined with UNION ALL; the
database filters, computes ``due_date``/``days_overdue``, sorts and summarises, and Python
only receives the late items.

A request reads every late item once: the *tally* (``tally_delays``) counts them by
district, kind and days overdue; the summary is its sums, and a page is read from the days,
kinds and districts the tally places it in (``page_window``), not from the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.functions import FunctionElement

from server.extensions import db
from server.models import DuplicateCase, Household, Payout, RecordVersion, Registration, SupportItem
from server.store.activity import collaborators_then
from server.store.calendar import (
    add_days,
    day_literal,
    day_of,
    days_between,
    end_of_day,
    json_date,
    json_text,
    json_timestamp,
)
from server.store.units import within
from sync.actors import Scope
from sync.delays import (
    APPROVAL_OVERDUE,
    COLLABORATOR_SILENT,
    DUPLICATE_UNSETTLED,
    NEVER_SYNCED,
    PAYOUT_OVERDUE,
    SETTLED_PAYOUT_STATUSES,
    SILENT,
    SUPPORT_OVERDUE,
    WAITING_REGISTRATION_STATUS,
    WAITING_SUPPORT_STATUS,
)

ITEM_COLUMNS = (
    "kind",
    "entity",
    "id",
    "household_id",
    "district_code",
    "commune_code",
    "due_date",
    "days_overdue",
    "status",
    "amount_vnd",
)


@dataclass(frozen=True)
class DelayQuery:
    """One question: late on ``as_of``, of these kinds, inside ``scope`` (and ``unit``)."""

    as_of: date
    kinds: tuple[str, ...]
    scope: Scope
    unit: Scope | None
    approval_days: int
    silent_days: int
    zone: str
    from_versions: bool  # a past day: read the versions kept, not the current tables
    #: A page whose place in the list the tally has found reads only its own items: those
    #: this many days overdue (fewest, most; inclusive) and in these districts.
    days: tuple[int, int] | None = None
    districts: frozenset[str | None] | None = None

    @property
    def cutoff(self) -> datetime:
        """The first instant after ``as_of`` in the programme's time zone (as UTC)."""
        return end_of_day(self.as_of, self.zone)

    def within(self, columns) -> ColumnElement[bool]:
        """Rows inside the caller's scope and the requested unit."""
        condition = within(self.scope, columns)
        if self.unit:
            condition = and_(condition, within(self.unit, columns))
        if self.districts is not None:
            cols = getattr(columns, "c", columns)
            codes = [code for code in self.districts if code is not None]
            among = cols.district_code.in_(codes)
            condition = and_(
                condition, or_(among, cols.district_code.is_(None)) if None in self.districts else among
            )
        return condition


# -- sources: the same columns from the current tables or from the versions of a past day ----


def versions_at(entity: str, cutoff: datetime):
    """The version of each record of ``entity`` that held at ``cutoff`` (a FROM-able select)."""
    return select(RecordVersion).where(
        RecordVersion.entity == entity,
        RecordVersion.valid_from < cutoff,
        or_(RecordVersion.valid_to.is_(None), RecordVersion.valid_to >= cutoff),
    )


def kept_record(entity: str, q: DelayQuery):
    """The versions of ``entity`` valid on the day asked, with the columns every source has
    (``id``, ``household_id``, units, ``deleted``, ``status``) read from their JSON."""
    rv = versions_at(entity, q.cutoff).subquery("rv")
    columns = (
        rv.c.record_id.label("id"),
        json_text(rv.c.data, "household_id").label("household_id"),
        rv.c.district_code,
        rv.c.commune_code,
        rv.c.deleted,
        json_text(rv.c.data, "status").label("status"),
    )
    return rv, columns


def on_the_day(q: DelayQuery, model, now: Select, rv, then: Select):
    """A source as it stood on a past day: records unchanged since then come from the
    current table (``updated_at`` before the day ended: the current version already held),
    and only those changed afterwards from the version they had then (one whose validity
    ended after the day). The partial indexes of the current tables serve the first part;
    the versions read are those of records edited since, not every version kept."""
    return union_all(now.where(model.updated_at < q.cutoff), then.where(rv.c.valid_to.is_not(None)))


def payout_source(q: DelayQuery):
    p = Payout
    now = select(
        p.id, p.household_id, p.district_code, p.commune_code, p.deleted, p.status, p.due_date, p.amount_vnd
    )
    if not q.from_versions:
        return now.subquery("payouts_then")
    rv, columns = kept_record("payouts", q)
    then = select(
        *columns,
        json_date(json_text(rv.c.data, "due_date")).label("due_date"),
        cast(json_text(rv.c.data, "amount_vnd"), BigInteger).label("amount_vnd"),
    )
    return on_the_day(q, p, now, rv, then).subquery("payouts_then")


def support_source(q: DelayQuery):
    s = SupportItem
    now = select(s.id, s.household_id, s.district_code, s.commune_code, s.deleted, s.status, s.due_date)
    if not q.from_versions:
        return now.subquery("support_then")
    rv, columns = kept_record("support_items", q)
    then = select(*columns, json_date(json_text(rv.c.data, "due_date")).label("due_date"))
    return on_the_day(q, s, now, rv, then).subquery("support_then")


def registration_source(q: DelayQuery):
    """Registrations with ``received_on``: the programme day of their (latest) submission."""
    r = Registration
    now = select(
        r.id,
        r.household_id,
        r.district_code,
        r.commune_code,
        r.deleted,
        r.status,
        day_of(r.submitted_at, q.zone).label("received_on"),
    )
    if not q.from_versions:
        # With the stored timestamp too, so the approval rule can also be an index range.
        return now.add_columns(r.submitted_at).subquery("registrations_then")
    rv, columns = kept_record("registrations", q)
    received = day_of(json_timestamp(json_text(rv.c.data, "submitted_at")), q.zone)
    then = select(*columns, received.label("received_on"))
    return on_the_day(q, r, now, rv, then).subquery("registrations_then")


def deleted_household_ids(q: DelayQuery):
    """Households deleted (as of the day asked): their records drop out of the audit."""
    now = select(Household.id).where(Household.deleted)  # ix_households_deleted
    if not q.from_versions:
        return now
    rv = versions_at("households", q.cutoff).subquery("hh")
    then = select(rv.c.record_id).where(rv.c.deleted.is_(True))  # ix_record_versions_deleted_households
    return on_the_day(q, Household, now, rv, then)


def collaborator_source(q: DelayQuery):
    """Active collaborators with their units' codes and ``last_sync_at`` as of the day asked."""
    return collaborators_then(q.cutoff, q.from_versions)


# -- the four kinds -------------------------------------------------------------------------


def late_item(
    q: DelayQuery, kind: str, entity: str, src, due: ColumnElement, status: ColumnElement, amount=None
) -> Select:
    """One kind's late items in the common column layout."""
    as_of = day_literal(q.as_of)
    late = select(
        literal(kind, String).label("kind"),
        literal(entity, String).label("entity"),
        src.c.id.label("id"),
        (src.c.household_id if "household_id" in src.c else cast(null(), String)).label("household_id"),
        src.c.district_code.label("district_code"),
        src.c.commune_code.label("commune_code"),
        type_coerce(due, Date).label("due_date"),  # no CAST: SQLite would make it a number
        days_between(due, as_of).label("days_overdue"),
        status.label("status"),
        (amount if amount is not None else cast(null(), BigInteger)).label("amount_vnd"),
    ).where(q.within(src.c), due < as_of)
    if q.days is not None:
        # days_overdue = as_of - due for every kind: a range of days is a range of due dates.
        fewest, most = q.days
        late = late.where(
            due >= day_literal(q.as_of - timedelta(days=most)),
            due <= day_literal(q.as_of - timedelta(days=fewest)),
        )
    return late


def payouts_overdue(q: DelayQuery) -> Select:
    src = payout_source(q)
    return late_item(q, PAYOUT_OVERDUE, "payouts", src, src.c.due_date, src.c.status, src.c.amount_vnd).where(
        src.c.deleted.is_(False),
        src.c.status.not_in(SETTLED_PAYOUT_STATUSES),
        src.c.household_id.not_in(deleted_household_ids(q)),
    )


def support_overdue(q: DelayQuery) -> Select:
    src = support_source(q)
    return late_item(q, SUPPORT_OVERDUE, "support_items", src, src.c.due_date, src.c.status).where(
        src.c.deleted.is_(False),
        src.c.status == WAITING_SUPPORT_STATUS,
        src.c.due_date.is_not(None),
        src.c.household_id.not_in(deleted_household_ids(q)),
    )


def approvals_overdue(q: DelayQuery) -> Select:
    src = registration_source(q)
    due = add_days(src.c.received_on, q.approval_days)
    late = late_item(q, APPROVAL_OVERDUE, "registrations", src, due, src.c.status).where(
        src.c.deleted.is_(False),
        src.c.status == WAITING_REGISTRATION_STATUS,
        src.c.received_on.is_not(None),
        src.c.household_id.not_in(deleted_household_ids(q)),
    )
    if "submitted_at" in src.c:
        # The same rule as a range of the stored timestamp (received before the end of the
        # last day that is already late), so an index serves it: received_on + N < as_of.
        last_late_day = q.as_of - timedelta(days=q.approval_days + 1)
        late = late.where(src.c.submitted_at < end_of_day(last_late_day, q.zone))
        if q.days is not None:
            # The page's days as a range of the timestamp too: received on the days that
            # are that many days overdue.
            fewest, most = q.days
            first_day = q.as_of - timedelta(days=most + q.approval_days)
            last_day = q.as_of - timedelta(days=fewest + q.approval_days)
            late = late.where(
                src.c.submitted_at >= end_of_day(first_day - timedelta(days=1), q.zone),
                src.c.submitted_at < end_of_day(last_day, q.zone),
            )
    return late


def collaborators_silent(q: DelayQuery) -> Select:
    people = collaborator_source(q)
    # A silent collaborator's ``id`` is the username.
    src = select(people.c.username.label("id"), *(c for c in people.c if c.name != "username")).subquery(
        "silent"
    )
    since = day_of(func.coalesce(src.c.last_sync_at, src.c.created_at), q.zone)
    status = case((src.c.last_sync_at.is_(None), NEVER_SYNCED), else_=SILENT)
    return late_item(q, COLLABORATOR_SILENT, "users", src, add_days(since, q.silent_days), status)


def duplicates_unsettled(q: DelayQuery) -> Select:
    """Possible duplicates open at the end of the day asked (opened by then, not settled by
    then): the case keeps both times, so a past day needs no versions."""
    d = DuplicateCase
    src = select(
        d.id,
        d.household_a.label("household_id"),
        d.district_code,
        d.commune_code,
        day_of(d.opened_at, q.zone).label("opened_on"),
    ).where(d.opened_at < q.cutoff, or_(d.settled_at.is_(None), d.settled_at >= q.cutoff))
    src = src.subquery("duplicates_then")
    due = add_days(src.c.opened_on, q.approval_days)
    return late_item(q, DUPLICATE_UNSETTLED, "duplicates", src, due, literal("open", String))


KIND_QUERIES = {
    PAYOUT_OVERDUE: payouts_overdue,
    APPROVAL_OVERDUE: approvals_overdue,
    SUPPORT_OVERDUE: support_overdue,
    COLLABORATOR_SILENT: collaborators_silent,
    DUPLICATE_UNSETTLED: duplicates_unsettled,
}


def late_items(q: DelayQuery):
    """Every late item of the kinds asked, as one subquery."""
    parts = [KIND_QUERIES[kind](q) for kind in q.kinds]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("late")


def item_order(items) -> tuple:
    """Most overdue first, then by kind, unit and id, so the order is stable (items of no
    district or commune last, on both databases)."""
    c = items.c
    return (c.days_overdue.desc(), c.kind, c.district_code.nulls_last(), c.commune_code.nulls_last(), c.id)


#: Other orders a reader may ask for (the dashboard's sortable columns); ties fall back to
#: ``item_order``. NULLs compare as empty / zero on both databases.
SORT_KEYS = {
    "days_overdue": lambda c: c.days_overdue,
    "due_date": lambda c: c.due_date,
    "kind": lambda c: c.kind,
    "district": lambda c: func.coalesce(c.district_code, ""),
    "amount_vnd": lambda c: func.coalesce(c.amount_vnd, 0),
}


def _row(row) -> dict:
    return dict(zip(ITEM_COLUMNS, row, strict=True))


class Tally(NamedTuple):
    """The late items of one kind in one district late by exactly ``days``: how many, the
    VND of those that are payouts, and the first of them in the list (``"commune|id"``)."""

    district_code: str | None
    kind: str
    days: int
    count: int
    vnd: int
    first: str


def tally_delays(q: DelayQuery) -> list[Tally]:
    """Every late item counted by district, kind and days overdue: one statement, each kind
    grouped in its own branch (only the columns counted are read).

    The summary is sums of it, and it says where any page of the list begins and ends - so
    the late items are read in full once per request, not once for the page and again for
    the summary.
    """
    parts = []
    for kind in q.kinds:
        late = KIND_QUERIES[kind](q).subquery()
        c = late.c
        vnd = func.sum(c.amount_vnd) if kind == PAYOUT_OVERDUE else literal(0, BigInteger)
        keys = (c.district_code, c.kind, c.days_overdue)
        parts.append(select(*keys, func.count(), vnd, first_in_order(c.commune_code, c.id)).group_by(*keys))
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    return [
        Tally(code, kind, int(days), int(n), int(vnd or 0), first)
        for code, kind, days, n, vnd, first in db.session.execute(stmt)
    ]


#: Orders whose first key is days overdue, either way (every kind's ``due_date`` is
#: ``as_of`` minus its days overdue): (sort, descending) -> most overdue first?
ORDERS_BY_DAYS = {
    (None, True): True,
    ("days_overdue", True): True,
    ("days_overdue", False): False,
    ("due_date", True): False,
    ("due_date", False): True,
}


def list_position(t: Tally, most_overdue_first: bool) -> tuple:
    """Where a tally's items stand in the list: ``item_order``'s keys down to the district
    (districts in byte order, none last, as ``item_order`` sorts them)."""
    return (-t.days if most_overdue_first else t.days, t.kind, t.district_code is None, t.district_code or "")


def page_window(
    q: DelayQuery, tally: list[Tally], offset: int, limit: int, most_overdue_first: bool
) -> tuple[DelayQuery, int] | None:
    """The question narrowed to the items that places ``offset`` to ``offset + limit - 1``
    of the list belong to, with the offset of the first of them in the narrowed list; None
    when the list is shorter than ``offset``.

    The tally's groups are the list's order down to the district, so the page lies within a
    run of consecutive groups: it is asked for their days, kinds and districts, and the
    offset is moved past the items before the run that the narrowed question still holds.
    """
    ranked = sorted(tally, key=lambda t: list_position(t, most_overdue_first))
    before, first, skipped, run = 0, 0, 0, []
    for i, t in enumerate(ranked):
        if before + t.count > offset:
            if not run:
                first, skipped = i, before
            run.append(t)
            if before + t.count >= offset + limit:
                break
        before += t.count
    if not run:
        return None
    days = [t.days for t in run]
    narrowed = replace(
        q,
        kinds=tuple(k for k in q.kinds if k in {t.kind for t in run}),
        days=(min(days), max(days)),
        districts=frozenset(t.district_code for t in run),
    )
    still_held = sum(
        t.count
        for t in ranked[:first]
        if min(days) <= t.days <= max(days)
        and t.kind in narrowed.kinds
        and t.district_code in narrowed.districts
    )
    return narrowed, offset - skipped + still_held


def list_delays(
    q: DelayQuery,
    limit: int | None = None,
    offset: int = 0,
    sort: str | None = None,
    descending: bool = True,
    tally: list[Tally] | None = None,
) -> list[dict]:
    """The late items, most overdue first (or by ``sort``), ``limit`` of them from ``offset``.

    The database sorts and cuts the page; Python only sees the rows it returns. Given the
    ``tally`` of the same question and an order by days, only the page's days are read.
    """
    by_days = ORDERS_BY_DAYS.get((sort, descending))
    if tally is not None and limit is not None and by_days is not None:
        window = page_window(q, tally, offset, limit, by_days)
        if window is None:
            return []
        q, offset = window
    items = late_items(q)
    order = item_order(items)
    if sort is not None:
        key = SORT_KEYS[sort](items.c)
        order = (key.desc() if descending else key.asc(), *order)
    stmt = select(*(items.c[name] for name in ITEM_COLUMNS)).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    elif offset:
        stmt = stmt.offset(offset)
    return [_row(row) for row in db.session.execute(stmt)]


class first_in_order(FunctionElement):  # noqa: N801 - a SQL aggregate, named like one
    """``first_in_order(commune_code, id)``: an aggregate whose value is the group's first
    item in ``item_order`` among items of one day, kind and district, as ``"commune|id"``.

    It is ``min`` of that text in byte order (``COLLATE "C"`` on PostgreSQL; SQLite compares
    bytes already): commune, then id, as the list orders them; an item of no commune is
    keyed ``~`` (after every code), as the list puts it last.
    """

    type = String()
    inherit_cache = True


def _first_in_order_sql(element, compiler, collate: str, **kw) -> str:
    commune, item_id = (compiler.process(c, **kw) for c in element.clauses)
    return f"min((COALESCE({commune}, '~') || '|' || {item_id}){collate})"


@compiles(first_in_order, "postgresql")
def _first_in_order_pg(element, compiler, **kw):
    return _first_in_order_sql(element, compiler, ' COLLATE "C"', **kw)


@compiles(first_in_order, "sqlite")
def _first_in_order_sqlite(element, compiler, **kw):
    return _first_in_order_sql(element, compiler, "", **kw)


ENTITY_OF_KIND = {
    PAYOUT_OVERDUE: "payouts",
    APPROVAL_OVERDUE: "registrations",
    SUPPORT_OVERDUE: "support_items",
    COLLABORATOR_SILENT: "users",
    DUPLICATE_UNSETTLED: "duplicates",
}


def summarise_delays(q: DelayQuery, tally: list[Tally] | None = None) -> dict[str | None, dict]:
    """Per district: how many late items of each kind, VND of late payouts, and the worst
    item (the district's first in ``item_order``): sums of the ``tally`` (read here unless
    given), so no item list reaches Python."""
    tally = tally_delays(q) if tally is None else tally
    districts: dict[str | None, dict] = {}
    worst: dict[str | None, Tally] = {}
    for t in tally:
        figures = districts.setdefault(
            t.district_code, {"total": 0, "counts": {}, "overdue_payout_vnd": 0, "worst": None}
        )
        figures["total"] += t.count
        figures["counts"][t.kind] = figures["counts"].get(t.kind, 0) + t.count
        figures["overdue_payout_vnd"] += t.vnd
        held = worst.get(t.district_code)
        if held is None or (-t.days, t.kind) < (-held.days, held.kind):  # one group per (days, kind)
            worst[t.district_code] = t
    for code, t in worst.items():
        districts[code]["worst"] = {
            "kind": t.kind,
            "entity": ENTITY_OF_KIND[t.kind],
            "id": t.first.split("|", 1)[1],
            "due_date": q.as_of - timedelta(days=t.days),
            "days_overdue": t.days,
        }
    return districts


def worst_of(districts: dict[str | None, dict]) -> dict | None:
    """The most overdue item of all, from the districts' worst (the list's own order)."""
    ranked = [
        (-f["worst"]["days_overdue"], f["worst"]["kind"], code or "", f["worst"])
        for code, f in districts.items()
        if f["worst"]
    ]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def find_delays(q: DelayQuery, summarise: bool = True) -> tuple[list[dict], dict[str | None, dict]]:
    """Every late item in order and (with ``summarise``) the district figures."""
    return list_delays(q), (summarise_delays(q) if summarise else {})


def page_of_delays(
    q: DelayQuery, limit: int, offset: int = 0, sort: str | None = None, descending: bool = True
) -> tuple[list[dict], dict[str | None, dict]]:
    """One page of the late items and the district figures over all of them: the tally
    read once serves both, and the page reads only its own days."""
    tally = tally_delays(q)
    return list_delays(q, limit, offset, sort, descending, tally=tally), summarise_delays(q, tally)
