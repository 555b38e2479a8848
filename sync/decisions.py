"""A commune official's decision on an exit-registration form: approve, reject or return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync.actors import COMMUNE, COMMUNE_OFFICIAL, Actor, resolve_scope
from sync.errors import (
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    ValidationFailed,
    VersionConflictError,
)
from sync.holds import check_not_held
from sync.lifecycles import DECIDE, DECISIONS, REGISTRATION_LIFE, REPAIR, may
from sync.records import REGISTRATIONS, Record
from sync.store import Store
from sync.writes import WriteContext, write_version

NOTE_MAX = 2000


def decide_registration(
    store: Store,
    actor: Actor,
    registration_id: str,
    decision: str,
    note: str | None,
    version: int,
    now: datetime,
) -> dict[str, Any]:
    """Record `decision` (`approve`, `reject` or `return`) on a submitted registration.

    Sets `status`, `decided_by` (the actor's username), `decided_at` (now) and
    `decision_note`, as a new version every device pulls, audited as `decide`. Returns the
    registration in wire shape `{"entity", "id", "version", "deleted", "data"}`.

    Raises ForbiddenError (not a commune official of a commune, nor an admin),
    ValidationFailed (unknown decision, note too long), NotFoundError (no such live
    registration in the actor's units - existence outside them is not revealed),
    VersionConflictError (`version` is not the current one; details carry the current) and
    InvalidTransitionError (the registration is not `submitted`) and ConflictOpenError (a
    conflict is open on the registration or its household: `sync.holds`).
    """
    if not may(actor.role, DECIDE):
        raise ForbiddenError("Only a commune official decides registrations.")
    if decision not in DECISIONS:
        raise ValidationFailed(
            "Unknown decision.", {"decision": [f"Must be one of: {', '.join(DECISIONS)}."]}
        )
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX):
        raise ValidationFailed("Bad note.", {"note": [f"Text of at most {NOTE_MAX} characters."]})
    scope = resolve_scope(store, actor)
    if actor.role == COMMUNE_OFFICIAL and scope.level != COMMUNE:
        raise ForbiddenError("A commune official decides for their own commune.")
    current = store.get_record(REGISTRATIONS, registration_id)
    if current is None or current.deleted or not scope.covers(current.commune_code, current.district_code):
        raise NotFoundError("No such registration.")
    if version != current.version:
        raise VersionConflictError(
            "The registration changed since you read it.", {"current_version": current.version}
        )
    move = REGISTRATION_LIFE.move(current.data.get("status"), DECISIONS[decision].status)
    if move is None or move.act != DECIDE:
        raise InvalidTransitionError(
            f"The registration is {current.data.get('status')}, not submitted.",
            {"status": current.data.get("status")},
        )
    check_not_held(store, REGISTRATIONS, registration_id, current.data)
    data = dict(current.data)
    data.update(status=move.target, decided_by=actor.username, decision_note=note)
    data[move.sets] = now.isoformat()
    return write_decided(store, actor, current, data, now)


def note_decision(
    store: Store, actor: Actor, registration_id: str, note: str, now: datetime
) -> dict[str, Any] | None:
    """Give a decided registration the note its decider wrote after deciding (a review comment).

    ODK Central records a review and its comment as two requests (pyodk's ``review(…,
    comment=)``); here the comment is the decision's ``decision_note``, set as a new version
    every device pulls (audited as ``decide``). Only when the registration is decided, has no
    note yet, and the actor is the one who decided it (or an admin): any other comment stays
    a comment. Returns the registration in wire shape, or None when the comment is not a note.
    """
    if not isinstance(note, str) or not note.strip() or len(note) > NOTE_MAX:
        return None
    current = store.get_record(REGISTRATIONS, registration_id)
    if current is None or current.deleted:
        return None
    data = dict(current.data)
    decided = data.get("status") in {d.status for d in DECISIONS.values()} and data.get("decided_by")
    if not decided or data.get("decision_note"):
        return None
    if not may(actor.role, REPAIR) and data.get("decided_by") != actor.username:
        return None
    scope = resolve_scope(store, actor)
    if not scope.covers(current.commune_code, current.district_code):
        return None
    data["decision_note"] = note
    return write_decided(store, actor, current, data, now)


def write_decided(store: Store, actor: Actor, current: Record, data: dict[str, Any], now: datetime) -> dict:
    """The registration's new version after a decision or its note (audited as ``decide``)."""
    record = write_version(
        store,
        WriteContext(actor, now),
        entity=REGISTRATIONS,
        record_id=current.id,
        current=current,
        data=data,
        deleted=False,
        place=(current.commune_code, current.district_code),
        action="decide",
    )
    return record.to_wire()
