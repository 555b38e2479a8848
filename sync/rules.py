"""Who may set what: the contract's "One write path", per role and record state.

Every check takes the record's data before and after a write (None before = a creation) and
raises a typed SyncError when the write is not allowed; a write that changes nothing is never
refused here. The engine runs the checks twice on a merged edit: on what the device meant
(its base -> its data) and on what would really happen (the current record -> the merge).

Role summary (always inside the writer's units; scope is checked by the engine):

- households, registrations: collaborators and commune officials create, edit and delete
  them (a locked registration not even that); admins too.
- support_items: district officers create them in any status, edit and delete them, and move
  them planned -> delivered | cancelled; field staff only record a planned item delivered
  (status and delivered_on, nothing else).
- payouts: district officers create them in any status, edit and delete them, and move them
  pending -> approved -> disbursed -> confirmed, or to cancelled before disbursed; field staff
  only confirm a disbursed payout (status and confirmed_on, nothing else).
- field staff moving a district record to any other status (cancelling an item, approving a
  payout) is ForbiddenError: the role forbids it whatever the record's state. Their own move
  from the wrong state (delivering a cancelled item) is InvalidTransitionError.

Support items are created only for an approved registration of the same household (the
engine checks this against the store). Their `kind` is NOT required to be among the
registration's `needs`: the needs were what the household asked for when it signed, and the
district may add support later (housing after a storm), so the match is a planning guide,
not a refusal.

A supervisor writes nothing through a push. An admin may move statuses freely (data repair)
but, like everyone, cannot touch a locked registration or a server-managed field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sync.actors import ADMIN, COLLABORATOR, COMMUNE_OFFICIAL, DISTRICT_OFFICER
from sync.errors import ForbiddenError, InvalidTransitionError, LockedRecordError, ReadOnlyFieldError
from sync.merge import changed_fields, same_value
from sync.records import (
    HOUSEHOLDS,
    IMMUTABLE_FIELDS,
    LOCKED_REGISTRATION_STATUSES,
    PAYOUTS,
    REGISTRATION_SERVER_FIELDS,
    REGISTRATIONS,
    SUPPORT_ITEMS,
)

FIELD_STAFF = (COLLABORATOR, COMMUNE_OFFICIAL)

#: Status moves a district officer may make on an existing record (a status may also stay).
DISTRICT_TRANSITIONS: Mapping[str, frozenset[tuple[str, str]]] = {
    SUPPORT_ITEMS: frozenset({("planned", "delivered"), ("planned", "cancelled")}),
    PAYOUTS: frozenset(
        {
            ("pending", "approved"),
            ("approved", "disbursed"),
            ("disbursed", "confirmed"),
            ("pending", "cancelled"),
            ("approved", "cancelled"),
        }
    ),
}

#: The one move field staff make on district records, and the fields it may touch: recording
#: a support item delivered, and a household confirming it received a payout.
FIELD_STAFF_MOVES: Mapping[str, tuple[str, str, frozenset[str]]] = {
    SUPPORT_ITEMS: ("planned", "delivered", frozenset({"status", "delivered_on"})),
    PAYOUTS: ("disbursed", "confirmed", frozenset({"status", "confirmed_on"})),
}


def check_write(role: str, entity: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
    """Raise unless `role` may turn `before` (None: nothing) into `after`.

    ForbiddenError: the role may not write this entity, or not these fields (`details` names
    them). InvalidTransitionError: the status move is not in the entity's lifecycle.
    """
    changes = set(after) if before is None else changed_fields(before, after)
    if not changes:
        return
    if role == ADMIN:
        return
    if entity in (HOUSEHOLDS, REGISTRATIONS):
        if role not in FIELD_STAFF:
            raise ForbiddenError(f"A {role} does not write {entity}.")
        return
    if role == DISTRICT_OFFICER:
        _check_district_move(entity, before, after)
        return
    if role in FIELD_STAFF and before is not None:
        _check_field_staff_move(entity, before, after, changes)
        return
    raise ForbiddenError(f"A {role} does not create or edit {entity}.")


def check_delete(role: str, entity: str, current: Mapping[str, Any]) -> None:
    """Raise unless `role` may delete this record: whoever may write it, but never a locked
    registration (LockedRecordError)."""
    allowed = role == ADMIN or (
        role in FIELD_STAFF if entity in (HOUSEHOLDS, REGISTRATIONS) else role == DISTRICT_OFFICER
    )
    if not allowed:
        raise ForbiddenError(f"A {role} does not delete {entity}.")
    check_not_locked(entity, current, {"deleted"})


def check_not_locked(entity: str, current: Mapping[str, Any], intended: set[str]) -> None:
    """Raise LockedRecordError when `intended` changes would touch an approved or rejected
    registration. Nobody, admin included, edits a decided form: it is the signed record."""
    if entity == REGISTRATIONS and intended and current.get("status") in LOCKED_REGISTRATION_STATUSES:
        raise LockedRecordError(
            f"The registration is {current['status']} and locked.", {"status": current["status"]}
        )


def check_immutable(entity: str, current: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    """Raise ReadOnlyFieldError when `data` changes a field fixed at creation."""
    moved = [name for name in IMMUTABLE_FIELDS.get(entity, ()) if data.get(name) != current.get(name)]
    if moved:
        raise ReadOnlyFieldError(
            "These fields cannot change after creation.",
            {name: ["Cannot change after creation."] for name in moved},
        )


def settle_server_fields(
    entity: str,
    data: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    now: datetime,
    history: Callable[[], Iterable[Mapping[str, Any]]] = tuple,
) -> dict[str, Any]:
    """Replace a registration's server-managed fields in `data` with the server's values.

    Devices never set these fields, but they echo what they hold. A value left out (or
    null), equal to the current one, to the base one, or to one the record held at any
    earlier version (`history()` yields older versions' data; called only when needed) is a
    stale copy, not a change. A phone that created or resubmitted a form and took the
    version from the push result, without pulling, still holds the status it last pulled.
    Only a value the record never had is an attempt to set it: ReadOnlyFieldError. On
    creation only `status: submitted` (what the server sets anyway) or null is accepted.
    Other entities pass through unchanged.
    """
    if entity != REGISTRATIONS:
        return dict(data)
    settled = dict(data)
    if current is None:
        server_values = new_registration_fields(now)
        refused = [
            name
            for name in REGISTRATION_SERVER_FIELDS
            if data.get(name) is not None and not (name == "status" and data[name] == "submitted")
        ]
    else:
        server_values = {name: current.get(name) for name in REGISTRATION_SERVER_FIELDS}
        refused = [
            name
            for name in REGISTRATION_SERVER_FIELDS
            if data.get(name) is not None
            and not same_value(name, data.get(name), current.get(name))
            and not same_value(name, data.get(name), (base or {}).get(name))
        ]
        if refused:
            older = list(history())
            refused = [name for name in refused if all(data[name] != version.get(name) for version in older)]
    if refused:
        raise ReadOnlyFieldError(
            "Server-managed fields cannot be set by a device.",
            {name: ["Read-only: set by the server."] for name in refused},
        )
    settled.update(server_values)
    return settled


def new_registration_fields(now: datetime) -> dict[str, Any]:
    """The server-managed fields of a registration just received (or received again)."""
    return {
        "status": "submitted",
        "submitted_at": now.isoformat(),
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
    }


def restart_if_returned(entity: str, current: Mapping[str, Any], data: dict[str, Any], now: datetime) -> None:
    """A returned registration that is edited goes back to `submitted`, received now: the
    approval clock restarts, and the old decision no longer describes it."""
    if entity == REGISTRATIONS and current.get("status") == "returned":
        data.update(new_registration_fields(now))


def _check_district_move(entity: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
    if entity not in DISTRICT_TRANSITIONS:
        raise ForbiddenError(f"A district_officer does not write {entity}.")
    if before is None or before.get("status") == after.get("status"):
        return
    move = (before.get("status"), after.get("status"))
    if move not in DISTRICT_TRANSITIONS[entity]:
        raise InvalidTransitionError(
            f"{entity} cannot move from {move[0]} to {move[1]}.", {"status": [f"{move[0]} -> {move[1]}"]}
        )


def _check_field_staff_move(
    entity: str, before: Mapping[str, Any], after: Mapping[str, Any], changes: set[str]
) -> None:
    if entity not in FIELD_STAFF_MOVES:
        raise ForbiddenError(f"Field staff do not write {entity}.")
    source, target, allowed = FIELD_STAFF_MOVES[entity]
    extra = changes - allowed
    if extra:
        raise ForbiddenError(
            f"Field staff may only record {entity} as {target}.",
            {name: ["Not writable by field staff."] for name in sorted(extra)},
        )
    if after.get("status") != target:
        # No state of the record would allow this move to this writer: a matter of role.
        raise ForbiddenError(
            f"Field staff may only record {entity} as {target}; the rest is the district's.",
            {"status": [f"{before.get('status')} -> {after.get('status')}"]},
        )
    if before.get("status") != source:
        raise InvalidTransitionError(
            f"Field staff may only move {entity} from {source} to {target}.",
            {"status": [f"{before.get('status')} -> {after.get('status')}"]},
        )
