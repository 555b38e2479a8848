"""What a device downloads: every record of its units changed since its cursor."""

from __future__ import annotations

from typing import Any

from sync.actors import Actor, Scope, resolve_scope
from sync.errors import ValidationFailed
from sync.store import Store

# A phone's first sync of a 1,000-household commune is ~3,500 records: one page of 5,000
# is one round trip on EDGE instead of four. A record's data is bounded by its schema (a few
# kB at most), so a page stays a few MB in memory.
MAX_LIMIT = 5000


def pull(
    store: Store, actor: Actor, cursor: int | None, limit: int, scope: Scope | None = None
) -> dict[str, Any]:
    """The records in the actor's units written after feed position `cursor` (None: all).

    Returns `{"changes": [record, ...], "cursor": int, "more": bool, "remaining": int}`: each
    record once, at
    its latest version, as `{"entity", "id", "version", "deleted", "data"}` (tombstones keep
    their last data), in feed order. `cursor` is the position to pass next time (unchanged
    when nothing changed); `more` says another page is waiting and `remaining` how many
    records it and the pages after it hold now (0 on the last page), so a phone can show its
    progress. The integer cursor is the
    server's to make opaque and to bind to the user. Raises ValidationFailed for a limit
    outside 1..MAX_LIMIT or a negative cursor, ForbiddenError for an actor of an unknown unit.
    `scope` is the actor's, when the caller has resolved it already (it is not read twice).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("Bad limit.", {"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    after = cursor or 0
    if after < 0:
        raise ValidationFailed("Bad cursor.", {"cursor": ["Not a valid cursor."]})
    scope = scope or resolve_scope(store, actor)
    # One record more than asked tells whether another page waits, without a count query.
    entries = store.list_feed(scope, after, limit + 1)
    page = entries[:limit]
    next_cursor = page[-1].seq if page else after
    more = len(entries) > limit
    return {
        "changes": [entry.record for entry in page],
        "cursor": next_cursor,
        "more": more,
        # Counted only when another page waits: the last page (every delta pull of a phone
        # that is up to date) costs no second query.
        "remaining": store.count_feed(scope, next_cursor) if more else 0,
    }
