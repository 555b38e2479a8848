"""Who may set what: the contract's "One write path", per role and record state.

Every check takes the record's data before and after a write (None before = a creation) and
raises a typed SyncError when the write is not allowed; a write that changes nothing is never
refused here. The engine runs the checks twice on a merged edit: on what the device meant
(its base -> its data) and on what would really happen (the current record -> the merge).

The rights and the moves are the tables of `sync.lifecycles`, read here as follows (always
inside the writer's units; scope is checked by the engine):

- a role with the entity's write act (`WRITE_ACTS`: field staff for households and forms,
  the district for support items and payouts) creates records in any status, edits and
  deletes them, and moves their status along the lifecycle - a move out of it is
  InvalidTransitionError, a move whose act the role lacks ForbiddenError;
- a role without it may only make its own moves on an existing record (field staff record
  a planned item delivered, a disbursed payout confirmed), touching the status and the date
  the move sets, nothing else; any other field or target status is ForbiddenError (the role
  forbids it whatever the record's state), their own move from the wrong state
  InvalidTransitionError;
- a registration's status is the server's (`by_server`): decisions and resubmission move it.

Support items are created only for an approved registration of the same household (the
engine checks this against the store). Their `kind` is NOT required to be among the
registration's `needs`: the needs were what the household asked for when it signed, and the
district may add support later (housing after a storm), so the match is a planning guide,
not a refusal.

A supervisor writes nothing through a push. An admin may move statuses freely (`REPAIR`)
but, like everyone, cannot touch a locked registration or a server-managed field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sync.errors import ForbiddenError, InvalidTransitionError, LockedRecordError, ReadOnlyFieldError
from sync.lifecycles import (
    LIFECYCLES,
    REGISTRATION_LIFE,
    REPAIR,
    RETURNED,
    SUBMITTED,
    WRITE_ACTS,
    Lifecycle,
    may,
)
from sync.merge import changed_fields, same_value
from sync.records import (
    HOUSEHOLDS,
    IMMUTABLE_FIELDS,
    MERGED_INTO,
    REGISTRATION_SERVER_FIELDS,
    REGISTRATIONS,
    Record,
)


def check_write(role: str, entity: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> None:
    """Raise unless `role` may turn `before` (None: nothing) into `after`.

    ForbiddenError: the role may not write this entity, or not these fields (`details` names
    them). InvalidTransitionError: the status move is not in the entity's lifecycle.
    """
    changes = set(after) if before is None else changed_fields(before, after)
    if not changes or may(role, REPAIR):
        return
    life = LIFECYCLES.get(entity)
    if may(role, WRITE_ACTS[entity]):
        if before is not None and life is not None and not life.by_server:
            _check_move(role, life, before.get("status"), after.get("status"))
        return
    own = life.moves_of(role) if life is not None and not life.by_server else ()
    if not own:
        raise ForbiddenError(f"A {role} does not write {entity}.")
    if before is None:
        raise ForbiddenError(f"A {role} does not create {entity}.")
    _check_own_move(role, entity, own, before, after, changes)


def check_delete(
    role: str, entity: str, current: Mapping[str, Any], dependents: Iterable[Record] = ()
) -> None:
    """Raise unless `role` may delete this record: whoever may write it, but never a locked
    registration (LockedRecordError), and - but for an admin repairing data - never a
    household whose `dependents` (the records hanging off it) hold programme history: a
    decided form, planned or delivered support, a payout not cancelled (LockedRecordError)."""
    check_may_write(role, entity)
    check_not_locked(entity, current, {"deleted"})
    if entity == HOUSEHOLDS and not may(role, REPAIR):
        held = sorted(
            (record.entity, record.id)
            for record in dependents
            if not record.deleted
            and record.entity in LIFECYCLES
            and record.data.get("status") in LIFECYCLES[record.entity].keeps_household
        )
        if held:
            details: dict[str, list[str]] = {}
            for held_entity, record_id in held:
                details.setdefault(held_entity, []).append(record_id)
            raise LockedRecordError(
                "The household has decided forms, support or payouts and cannot be deleted.", details
            )


def check_may_write(role: str, entity: str) -> None:
    """Raise ForbiddenError unless `role` writes whole records of `entity` (creating,
    deleting or restoring one)."""
    if not (may(role, REPAIR) or may(role, WRITE_ACTS[entity])):
        raise ForbiddenError(f"A {role} does not delete or restore {entity}.")


def check_not_locked(entity: str, current: Mapping[str, Any], intended: set[str]) -> None:
    """Raise LockedRecordError when `intended` changes would touch an approved or rejected
    registration. Nobody, admin included, edits a decided form: it is the signed record."""
    if entity == REGISTRATIONS and intended and current.get("status") in REGISTRATION_LIFE.locked:
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
    A household's `merged_into` is the server's too: a device may echo the current value (or
    leave it out), never set another. Other entities pass through unchanged.
    """
    if entity == HOUSEHOLDS:
        return _settle_merged_into(data, current)
    if entity != REGISTRATIONS:
        return dict(data)
    settled = dict(data)
    if current is None:
        server_values = new_registration_fields(now)
        refused = [
            name
            for name in REGISTRATION_SERVER_FIELDS
            if data.get(name) is not None
            and not (name == "status" and data[name] == REGISTRATION_LIFE.initial)
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


def _settle_merged_into(data: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    server_value = (current or {}).get(MERGED_INTO)
    if data.get(MERGED_INTO) is not None and data.get(MERGED_INTO) != server_value:
        raise ReadOnlyFieldError(
            "Server-managed fields cannot be set by a device.",
            {MERGED_INTO: ["Read-only: set by the server."]},
        )
    settled = dict(data)
    if server_value is not None:
        settled[MERGED_INTO] = server_value
    return settled


def new_registration_fields(now: datetime) -> dict[str, Any]:
    """The server-managed fields of a registration just received (or received again)."""
    return {
        "status": REGISTRATION_LIFE.initial,
        REGISTRATION_LIFE.move(RETURNED, SUBMITTED).sets: now.isoformat(),
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
    }


def restart_if_returned(entity: str, current: Mapping[str, Any], data: dict[str, Any], now: datetime) -> None:
    """A returned registration that is edited goes back to `submitted`, received now: the
    approval clock restarts, and the old decision no longer describes it."""
    if entity == REGISTRATIONS and REGISTRATION_LIFE.move(current.get("status"), SUBMITTED):
        data.update(new_registration_fields(now))


def _check_move(role: str, life: Lifecycle, source: Any, target: Any) -> None:
    if source == target:
        return
    move = life.move(source, target)
    if move is None:
        raise InvalidTransitionError(
            f"{life.entity} cannot move from {source} to {target}.", {"status": [f"{source} -> {target}"]}
        )
    if not may(role, move.act):
        raise ForbiddenError(
            f"A {role} does not {move.act} {life.entity}.", {"status": [f"{source} -> {target}"]}
        )


def _check_own_move(
    role: str,
    entity: str,
    own: tuple[Any, ...],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    changes: set[str],
) -> None:
    """A role that does not write `entity` may only make its own moves (`own`), touching
    nothing but the status and the date each move sets."""
    targets = sorted({move.target for move in own})
    allowed = {"status"} | {move.sets for move in own if move.sets}
    extra = changes - allowed
    if extra:
        raise ForbiddenError(
            f"A {role} may only record {entity} as {' or '.join(targets)}.",
            {name: [f"Not writable by a {role}."] for name in sorted(extra)},
        )
    move = f"{before.get('status')} -> {after.get('status')}"
    if after.get("status") not in targets:
        # No state of the record would allow this move to this writer: a matter of role.
        raise ForbiddenError(
            f"A {role} may only record {entity} as {' or '.join(targets)}; the rest is the district's.",
            {"status": [move]},
        )
    if not any(m.source == before.get("status") and m.target == after.get("status") for m in own):
        raise InvalidTransitionError(f"{entity} cannot move {move} by a {role}.", {"status": [move]})
