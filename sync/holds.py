"""Conflicts hold the money: a form is not decided, a payout not approved or paid, while two
phones still disagree about it or about its household.

An open conflict means the server holds one phone's values and kept the other's aside for a
person to choose; deciding the form or paying the household meanwhile would act on values
that may be the wrong ones. `HELD_MOVES` says which status moves wait: every decision on a
registration, and a payout's move into `approved` or `disbursed` (a creation straight into
those states too - a payout recorded as approved is an approval). Resolving the conflict
lifts the hold; nothing else does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.errors import ConflictOpenError
from sync.lifecycles import APPROVED, DECIDE, DISBURSED, REGISTRATION_LIFE
from sync.records import HOUSEHOLDS, PAYOUTS, REGISTRATIONS
from sync.store import Store

#: Per entity, the statuses a record may not move into while a conflict is open on it or on
#: its household.
HELD_MOVES: Mapping[str, frozenset[str]] = {
    REGISTRATIONS: frozenset(move.target for move in REGISTRATION_LIFE.moves if move.act == DECIDE),
    PAYOUTS: frozenset({APPROVED, DISBURSED}),
}


def held_keys(entity: str, record_id: str, data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The records whose open conflicts hold this one: itself and its household."""
    keys = [(entity, record_id)]
    household_id = data.get("household_id")
    if isinstance(household_id, str):
        keys.append((HOUSEHOLDS, household_id))
    return keys


def moves_into_hold(entity: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Does turning `before` (None: a creation) into `after` make a move an open conflict holds?"""
    held = HELD_MOVES.get(entity)
    if not held:
        return False
    target = after.get("status")
    return target in held and (before is None or before.get("status") != target)


def check_not_held(store: Store, entity: str, record_id: str, data: Mapping[str, Any]) -> None:
    """Raise ConflictOpenError when a conflict is open on the record or on its household;
    `details.conflict_id` names the oldest, `details.conflict_ids` all of them."""
    open_ones = store.list_open_conflicts(held_keys(entity, record_id, data))
    if open_ones:
        first = min(open_ones, key=lambda c: (c.created_at, c.id))
        raise ConflictOpenError(
            "A conflict is open on this record or its household; resolve it first.",
            {
                "conflict_id": first.id,
                "conflict_ids": sorted(c.id for c in open_ones),
                "entity": first.entity,
                "record_id": first.record_id,
            },
        )
