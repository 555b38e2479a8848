"""The audit trail as a hash chain: each entry carries the hash of its content and of the
entry before it, so an entry edited, or deleted, in the database no longer matches.

Entries are numbered 1, 2, 3 ... per database (`chain_position`); entry N's `prev_hash` is
entry N-1's `entry_hash` (`GENESIS` for the first), and

    entry_hash = sha256(prev_hash + "\\n" + canonical(content)).hexdigest()

where `canonical(content)` is the UTF-8 JSON object of the fields in `CHAIN_FIELDS` (keys
sorted, no spaces, non-ASCII kept as is) with every timestamp written in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ`. The store assigns positions and hashes under the lock that
orders the whole write path, at the very end of each write transaction, so concurrent
writers extend one chain, never two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

#: The columns of an audit entry that its hash covers (the row's own id is not: it is the
#: database's key, and the position already orders the chain).
CHAIN_FIELDS = (
    "chain_position",
    "at",
    "actor",
    "user_id",
    "device_id",
    "batch_id",
    "change_id",
    "client_time",
    "action",
    "entity",
    "record_id",
    "version",
    "before",
    "after",
    "commune_code",
    "district_code",
    "made_after",
    "made_before",
    "clock_suspect",
)


def _plain(value: Any) -> Any:
    """What the JSON encoder does not know: an aware time in UTC, any other mapping as a dict."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("audit times are aware")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not part of an audit entry")


def canonical(content: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its `CHAIN_FIELDS`, canonical JSON (the encoder
    walks the values once; only times and foreign mappings reach `_plain`)."""
    picked = {name: content.get(name) for name in CHAIN_FIELDS}
    return json.dumps(
        picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    ).encode("utf-8")


def entry_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of an entry whose predecessor's hash is `prev_hash`."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(content)).hexdigest()


def link(rows: list[dict[str, Any]], first_position: int, prev_hash: str) -> str:
    """Number `rows` from `first_position` and chain them after `prev_hash`, in place;
    returns the hash of the last one (the new head)."""
    for offset, row in enumerate(rows):
        row["chain_position"] = first_position + offset
        row["prev_hash"] = prev_hash
        row["entry_hash"] = prev_hash = entry_hash(row, prev_hash)
    return prev_hash


@dataclass(frozen=True)
class Break:
    """Where the chain stops matching: the entry (its row id, None when it is missing), the
    position expected there, and what is wrong."""

    row_id: Any
    position: int
    problem: str


def first_break(rows: Iterable[Mapping[str, Any]], expected_count: int | None = None) -> Break | None:
    """Walk entries in position order; the first that does not match, or None.

    `expected_count` is how many entries the database numbered (its counter): fewer found
    means the last ones were deleted.
    """
    prev, expected = GENESIS, 1
    for row in rows:
        position = row.get("chain_position")
        if position != expected:
            if position is None:
                return Break(row.get("id"), expected, "the entry has no place in the chain")
            return Break(
                row.get("id"),
                expected,
                f"entry {expected} is missing (deleted?): the next one found is {position}",
            )
        if row.get("prev_hash") != prev:
            return Break(row.get("id"), position, "its prev_hash is not the hash of the entry before it")
        recomputed = entry_hash(row, prev)
        if row.get("entry_hash") != recomputed:
            return Break(row.get("id"), position, "its content does not match its hash (edited?)")
        prev, expected = recomputed, expected + 1
    if expected_count is not None and expected - 1 < expected_count:
        return Break(None, expected, f"entries {expected} to {expected_count} are missing (deleted?)")
    return None
