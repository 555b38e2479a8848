"""SQL for the delay audit (``GET /api/v1/delays``): what was late on a given day, and where.

Each kind of delay is one SELECT over a *source* of records: the typed current tables when
``as_of`` is today or later, or - for a past day - the versions kept in ``record_versions``
that were valid at the end of that programme day (``valid_from`` before midnight, ``valid_to``
open or after it), read from their JSON ``data``. Both sources expose the same columns, so
the rules (``sync/delays.py``) are written once. The kinds are joined with UNION ALL; the
database filters, computes ``due_date``/``days_overdue``, sorts and summarises, and Python
only receives the late items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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

    @property
    def cutoff(self) -> datetime:
        """The first instant after ``as_of`` in the programme's time zone (as UTC)."""
        return end_of_day(self.as_of, self.zone)

    def within(self, columns) -> ColumnElement[bool]:
        """Rows inside the caller's scope and the requested unit."""
        condition = within(self.scope, columns)
        return and_(condition, within(self.unit, columns)) if self.unit else condition


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
    return select(
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
    """Most overdue first, then by kind, unit and id, so the order is stable."""
    c = items.c
    return (c.days_overdue.desc(), c.kind, c.district_code, c.commune_code, c.id)


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


def list_delays(
    q: DelayQuery, limit: int | None = None, offset: int = 0, sort: str | None = None, descending: bool = True
) -> list[dict]:
    """The late items, most overdue first (or by ``sort``), ``limit`` of them from ``offset``.

    The database sorts and cuts the page; Python only sees the rows it returns.
    """
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
    """``first_in_order(days_overdue, kind, commune_code, id)``: an aggregate whose value is
    the group's first item in ``item_order`` (within one district), as text
    ``"<1999999 - days>|kind|commune|id"``.

    It is ``min`` of that text in byte order (``COLLATE "C"`` on PostgreSQL; SQLite compares
    bytes already): the fixed-width day figure sorts most overdue first, then kind, commune
    and id as the list does. One grouped statement then gives every district's worst item
    beside its counts, with no sort of the whole list.
    """

    type = String()
    inherit_cache = True


def _first_in_order_sql(element, compiler, collate: str, **kw) -> str:
    days, kind, commune, item_id = (compiler.process(c, **kw) for c in element.clauses)
    key = (
        f"CAST({WORST_KEY_BASE} - {days} AS VARCHAR) || '|' || {kind} || '|' || "
        f"COALESCE({commune}, '') || '|' || {item_id}"
    )
    return f"min(({key}){collate})"


@compiles(first_in_order, "postgresql")
def _first_in_order_pg(element, compiler, **kw):
    return _first_in_order_sql(element, compiler, ' COLLATE "C"', **kw)


@compiles(first_in_order, "sqlite")
def _first_in_order_sqlite(element, compiler, **kw):
    return _first_in_order_sql(element, compiler, "", **kw)


WORST_KEY_BASE = 1_999_999  # days_overdue below a million: the figure always has 7 digits
ENTITY_OF_KIND = {
    PAYOUT_OVERDUE: "payouts",
    APPROVAL_OVERDUE: "registrations",
    SUPPORT_OVERDUE: "support_items",
    COLLABORATOR_SILENT: "users",
    DUPLICATE_UNSETTLED: "duplicates",
}


def summarise_delays(q: DelayQuery) -> dict[str | None, dict]:
    """Per district: how many late items of each kind, VND of late payouts, and the worst
    item (the district's first in ``item_order``).

    One grouped statement over the late items: no item list reaches Python, so the summary
    of a province of a million households costs the database's scan and nothing more.
    """
    items = late_items(q)
    district, kind = items.c.district_code, items.c.kind
    late_vnd = case((kind == PAYOUT_OVERDUE, items.c.amount_vnd), else_=0)
    worst = first_in_order(items.c.days_overdue, kind, items.c.commune_code, items.c.id)
    counted = select(district, kind, func.count(), func.sum(late_vnd), worst).group_by(district, kind)
    districts: dict[str | None, dict] = {}
    firsts: dict[str | None, str] = {}
    for code, kind_name, count, vnd, first in db.session.execute(counted):
        figures = districts.setdefault(
            code, {"total": 0, "counts": {}, "overdue_payout_vnd": 0, "worst": None}
        )
        figures["total"] += count
        figures["counts"][kind_name] = count
        figures["overdue_payout_vnd"] += int(vnd or 0)
        if code not in firsts or first < firsts[code]:
            firsts[code] = first
    for code, first in firsts.items():
        days_key, kind_name, _commune, item_id = first.split("|", 3)
        days = WORST_KEY_BASE - int(days_key)
        districts[code]["worst"] = {
            "kind": kind_name,
            "entity": ENTITY_OF_KIND[kind_name],
            "id": item_id,
            "due_date": q.as_of - timedelta(days=days),
            "days_overdue": days,
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
