"""SQL for collaborators' activity (``GET /api/v1/activity``), as it stood at the end of a day.

Each collaborator's work is counted from what the sync engine keeps: the versions they wrote
(``record_versions.actor`` is the writer's username), the changes refused to them
(``rejected_changes.user_id``) and the conflicts their changes raised (``conflicts.user_id``).
Every count is one grouped query joined to the collaborators, never a loop in Python; each
looks only at what existed before the day's end (``cutoff``), so a past day reads as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import String, and_, case, cast, distinct, func, null, or_, select
from sqlalchemy.orm import aliased

from server.extensions import db
from server.models import Conflict, Device, RecordVersion, RejectedChange, SyncBatch, Unit, User
from server.store.calendar import day_literal, day_of, days_between, json_text
from server.store.units import within
from sync.actors import COLLABORATOR, Scope
from sync.lifecycles import CONFIRM, DELIVER, LIFECYCLES

#: The status a follow-up moves a record to: a support item delivered, a payout confirmed.
FOLLOW_UP_STATUSES = {
    life.entity: move.target
    for life in LIFECYCLES.values()
    for move in life.moves
    if move.act in (DELIVER, CONFIRM)
}


def collaborators_then(cutoff: datetime, from_history: bool):
    """Active collaborators at ``cutoff``: their units' codes and their last successful sync.

    Today (``from_history`` false) the last sync is ``users.last_sync_at``; for a past day it
    is the last batch received before ``cutoff`` (a later sync must not hide a silence then),
    and accounts created after ``cutoff`` did not exist yet.
    """
    if from_history:
        last_sync = (
            select(func.max(SyncBatch.received_at))
            .where(SyncBatch.user_id == User.id, SyncBatch.received_at < cutoff)
            .scalar_subquery()
        )
    else:
        last_sync = User.last_sync_at
    commune = case((Unit.level == "commune", Unit.code), else_=null())
    district = case((Unit.level == "commune", Unit.parent_code), (Unit.level == "district", Unit.code))
    query = (
        select(
            User.id.label("user_id"),
            User.username,
            User.display_name,
            User.unit_code,
            cast(commune, String).label("commune_code"),
            cast(district, String).label("district_code"),
            User.created_at,
            last_sync.label("last_sync_at"),
        )
        .join(Unit, Unit.code == User.unit_code)
        .where(User.role == COLLABORATOR, User.active.is_(True))
    )
    if from_history:
        query = query.where(User.created_at < cutoff)
    return query.subquery("collaborators_then")


@dataclass(frozen=True)
class ActivityQuery:
    as_of: date
    cutoff: datetime  # the first instant after ``as_of`` in the programme's time zone
    from_history: bool
    scope: Scope
    unit: Scope | None
    silent_days: int
    zone: str


def written_counts(people, cutoff: datetime):
    """Per writer: the distinct households and registrations they wrote a version of.

    Only narrow columns are read (never ``data``), so the grouping sorts small rows in memory.
    """
    rv = RecordVersion
    return (
        select(
            rv.actor.label("username"),
            func.count(distinct(case((rv.entity == "households", rv.record_id)))).label("households"),
            func.count(distinct(case((rv.entity == "registrations", rv.record_id)))).label("registrations"),
        )
        .where(
            rv.actor.in_(select(people.c.username)),
            rv.entity.in_(("households", "registrations")),
            rv.valid_from < cutoff,
        )
        .group_by(rv.actor)
        .subquery("written")
    )


def follow_up_counts(people, cutoff: datetime):
    """Per writer: the versions that moved a support item to delivered or a payout to confirmed.

    A version counts when its previous version (by primary key) was not already in that status,
    so editing a delivered item again is not a second delivery.
    """
    rv, before = RecordVersion, aliased(RecordVersion)
    status = json_text(rv.data, "status")
    moved = or_(*(and_(rv.entity == entity, status == to) for entity, to in FOLLOW_UP_STATUSES.items()))
    already = (
        select(before.version)
        .where(
            before.entity == rv.entity,
            before.record_id == rv.record_id,
            before.version == rv.version - 1,
            json_text(before.data, "status") == status,
        )
        .exists()
    )
    return (
        select(rv.actor.label("username"), func.count().label("follow_ups"))
        .where(
            rv.actor.in_(select(people.c.username)),
            rv.entity.in_(tuple(FOLLOW_UP_STATUSES)),
            rv.valid_from < cutoff,
            moved,
            ~already,
        )
        .group_by(rv.actor)
        .subquery("follow_ups")
    )


def rejected_counts(people, cutoff: datetime):
    return (
        select(RejectedChange.user_id, func.count().label("rejected_changes"))
        .where(RejectedChange.user_id.in_(select(people.c.user_id)), RejectedChange.received_at < cutoff)
        .group_by(RejectedChange.user_id)
        .subquery("rejected")
    )


def open_conflict_counts(people, cutoff: datetime):
    """Conflicts raised before the cutoff and not yet resolved at it."""
    return (
        select(Conflict.user_id, func.count().label("open_conflicts"))
        .where(
            Conflict.user_id.in_(select(people.c.user_id)),
            Conflict.created_at < cutoff,
            or_(Conflict.status == "open", Conflict.resolved_at >= cutoff),
        )
        .group_by(Conflict.user_id)
        .subquery("open_conflicts")
    )


def list_activity(q: ActivityQuery) -> list[dict]:
    """One row per collaborator in scope, the longest silent first, then by username."""
    people = collaborators_then(q.cutoff, q.from_history)
    inside = within(q.scope, people.c)
    if q.unit is not None:
        inside = and_(inside, within(q.unit, people.c))
    people = select(people).where(inside).subquery("people")
    written = written_counts(people, q.cutoff)
    follow_ups = follow_up_counts(people, q.cutoff)
    rejected = rejected_counts(people, q.cutoff)
    conflicts = open_conflict_counts(people, q.cutoff)
    since = day_of(func.coalesce(people.c.last_sync_at, people.c.created_at), q.zone)
    days_since = days_between(since, day_literal(q.as_of))
    query = (
        select(
            people.c.user_id,
            people.c.username,
            people.c.display_name,
            people.c.unit_code.label("unit"),
            people.c.district_code,
            people.c.last_sync_at,
            days_since.label("days_since_sync"),
            (days_since > q.silent_days).label("silent"),
            func.coalesce(written.c.households, 0).label("households"),
            func.coalesce(written.c.registrations, 0).label("registrations"),
            func.coalesce(follow_ups.c.follow_ups, 0).label("follow_ups"),
            func.coalesce(rejected.c.rejected_changes, 0).label("rejected_changes"),
            func.coalesce(conflicts.c.open_conflicts, 0).label("open_conflicts"),
        )
        .outerjoin(written, written.c.username == people.c.username)
        .outerjoin(follow_ups, follow_ups.c.username == people.c.username)
        .outerjoin(rejected, rejected.c.user_id == people.c.user_id)
        .outerjoin(conflicts, conflicts.c.user_id == people.c.user_id)
        .order_by(days_since.desc(), people.c.username)
    )
    rows = [dict(row._mapping) for row in db.session.execute(query)]
    devices = devices_of([row["user_id"] for row in rows], q.cutoff, q.from_history)
    for row in rows:
        row["devices"] = devices.get(row.pop("user_id"), [])
    return rows


def devices_of(user_ids: list[int], cutoff: datetime, from_history: bool) -> dict[int, list[dict]]:
    """Each collaborator's devices with their last sync and observed clock offset, most
    recently synced first. For a past day the last sync is the device's last batch before
    the day's end (devices not seen by then are left out); the offset is the latest known."""
    if not user_ids:
        return {}
    if from_history:
        last = func.max(SyncBatch.received_at)
        query = (
            select(SyncBatch.user_id, SyncBatch.device_id, last.label("last_sync_at"), Device.clock_offset_s)
            .outerjoin(Device, Device.id == SyncBatch.device_id)
            .where(SyncBatch.user_id.in_(user_ids), SyncBatch.received_at < cutoff)
            .group_by(SyncBatch.user_id, SyncBatch.device_id, Device.clock_offset_s)
        )
    else:
        query = select(
            Device.user_id, Device.id.label("device_id"), Device.last_sync_at, Device.clock_offset_s
        ).where(Device.user_id.in_(user_ids))
    found: dict[int, list[dict]] = {}
    for user_id, device_id, last_sync_at, offset in db.session.execute(query):
        found.setdefault(user_id, []).append(
            {"device_id": device_id, "last_sync_at": last_sync_at, "clock_offset_s": offset}
        )
    never = datetime.min.replace(tzinfo=UTC)
    for listed in found.values():
        listed.sort(key=lambda d: d["last_sync_at"] or never, reverse=True)
    return found
