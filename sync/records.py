"""The programme's records and the engine's bookkeeping entries, as plain data.

Everything the engine reads from or hands to a store is one of these frozen dataclasses, so a
SQL store maps each to a table row and the in-memory store keeps them as they are. Record
`data` is always JSON-ready (dates and timestamps are ISO text), exactly what a device pulls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HOUSEHOLDS = "households"
REGISTRATIONS = "registrations"
SUPPORT_ITEMS = "support_items"
PAYOUTS = "payouts"
ENTITIES = (HOUSEHOLDS, REGISTRATIONS, SUPPORT_ITEMS, PAYOUTS)

UPSERT = "upsert"
DELETE = "delete"
OPS = (UPSERT, DELETE)

HOUSEHOLD_CATEGORIES = ("poor", "near_poor")
REGISTRATION_KINDS = ("exit_poverty", "exit_near_poverty")
NEEDS = (
    "livestock",
    "seedlings",
    "vocational_training",
    "preferential_loan",
    "job_placement",
    "housing",
    "other",
)
FUNDING_SOURCES = ("province", "district", "commune", "social_policy_bank", "other")
PAYOUT_KINDS = ("reward", "interest_support", "health_insurance", "tuition", "other")
# Statuses and their moves are in sync.lifecycles.

#: Fields of a registration only the server sets (at creation, on a decision, on resubmission).
REGISTRATION_SERVER_FIELDS = ("status", "submitted_at", "decided_by", "decided_at", "decision_note")

#: The household field only the server sets: on the tombstone of a household settled as the
#: same as another (a possible duplicate, `sync.duplicates`), the id of the one kept.
MERGED_INTO = "merged_into"

#: Fields that fix a record's place (its unit, its household, its plan). Changing them would
#: silently move the record, and every record hanging off it, out of the units that can see
#: it, so they are set at creation and never change.
IMMUTABLE_FIELDS: Mapping[str, tuple[str, ...]] = {
    HOUSEHOLDS: ("commune_code",),
    REGISTRATIONS: ("household_id",),
    SUPPORT_ITEMS: ("household_id", "registration_id"),
    PAYOUTS: ("household_id",),
}

#: List fields merged as sets when both sides only added values.
SET_FIELDS = frozenset({"needs"})


class EncodedData(Mapping[str, Any]):
    """A record's ``data`` as the JSON text its store holds, decoded only when read.

    A pull passes records through without looking inside them; a store that keeps JSON text
    can hand it over like this, and the server can send that text as it is instead of
    decoding it and encoding it again. Reading it as a mapping works as for any record.
    """

    __slots__ = ("text", "_value")

    def __init__(self, text: str) -> None:
        self.text = text
        self._value: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        if self._value is None:
            self._value = json.loads(self.text)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._decoded()) == dict(other)

    __hash__ = None  # type: ignore[assignment]  # a mapping: unhashable, like a dict


@dataclass(frozen=True)
class FeedEntry:
    """One record of the pull feed: its position, and the record in the contract's shape
    (``entity``, ``id``, ``version``, ``deleted``, ``data``; see ``Record.to_wire``) - a
    mapping, which a SQL store may hand over as ``EncodedData`` built by the database."""

    seq: int
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Unit:
    """An administrative unit: `level` is `province`, `district` or `commune`."""

    code: str
    level: str
    parent_code: str | None
    name: str = ""


@dataclass(frozen=True)
class Record:
    """One version of one record; the current record is its highest version.

    `commune_code`/`district_code` are the record's scope (a household's own, the household's
    for the other entities) so stores can index pulls and listings by unit. `written_at` is the
    server time the version was written. `seq` is the record's position in the change feed,
    filled in by the store when it reads a record back for a pull (None elsewhere).
    """

    entity: str
    id: str
    version: int
    deleted: bool
    data: Mapping[str, Any]
    commune_code: str
    district_code: str
    written_at: datetime
    seq: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The contract's record shape (a pulled change, or GET /api/v1/<entity>/<id>)."""
        return {
            "entity": self.entity,
            "id": self.id,
            "version": self.version,
            "deleted": self.deleted,
            "data": self.data if isinstance(self.data, EncodedData) else dict(self.data),
        }


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only trail: who changed which record version, and how.

    `before`/`after` hold only the fields that changed; a deletion shows as the pseudo-field
    `deleted` going from False to True. `action` is `create`, `update`, `delete`, `decide` or
    `resolve`. `made_after`/`made_before` bound when a pushed change can have been made (the
    device's previous sync, its arrival); `clock_suspect` says its `client_time` lies outside.
    """

    entity: str
    record_id: str
    version: int
    action: str
    user_id: Any
    username: str
    at: datetime
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    commune_code: str
    district_code: str
    device_id: str | None = None
    batch_id: str | None = None
    change_id: str | None = None
    client_time: str | None = None
    made_after: datetime | None = None
    made_before: datetime | None = None
    clock_suspect: bool = False


@dataclass(frozen=True)
class AppliedChange:
    """A change the engine accepted (`applied`, `merged` or `conflict`); its change_id is spent.

    `version` is the record version the change produced (or found, when it changed nothing),
    reported back when the same change_id arrives again as a `duplicate`.
    """

    change_id: str
    batch_id: str
    device_id: str
    user_id: Any
    entity: str
    record_id: str
    status: str
    version: int
    conflict_id: str | None
    received_at: datetime
    client_time: str | None = None


@dataclass(frozen=True)
class RejectedChange:
    """A change the engine refused, kept as it arrived so supervisors can see it.

    `unit_code` is the sender's unit (the change's own unit may be unknown or out of scope);
    `commune_code`/`district_code` place the sender for scoped listings (None above that
    level: a district officer's refusals have no commune, a province user's neither).
    """

    change_id: str
    batch_id: str
    device_id: str
    user_id: Any
    username: str
    unit_code: str
    entity: str
    record_id: str
    op: str
    base_version: int | None
    data: Mapping[str, Any]
    errors: Mapping[str, Any]
    received_at: datetime
    client_time: str | None = None
    commune_code: str | None = None
    district_code: str | None = None


@dataclass(frozen=True)
class Conflict:
    """Values a device wrote that the server kept out, waiting for a person to choose.

    `fields` maps each field in conflict to `{"base", "server", "device"}` values; the pseudo-
    field `deleted` records a delete against an edited record (device True) or an edit against
    a deleted one (server True). `server_version` is the record version current when the
    conflict arose. Resolution fills `resolution`, `resolved_by`, `resolved_at` and
    `resolved_version` and sets `status` to `resolved`.
    """

    id: str
    entity: str
    record_id: str
    change_id: str
    base_version: int | None
    server_version: int
    fields: Mapping[str, Mapping[str, Any]]
    device_id: str
    batch_id: str
    user_id: Any
    username: str
    created_at: datetime
    commune_code: str
    district_code: str
    status: str = "open"
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolved_version: int | None = None

    def to_wire(self) -> dict[str, Any]:
        """The conflict as the conflicts endpoints show it."""
        return {
            "id": self.id,
            "entity": self.entity,
            "record_id": self.record_id,
            "base_version": self.base_version,
            "server_version": self.server_version,
            "fields": {name: dict(values) for name, values in self.fields.items()},
            "device_id": self.device_id,
            "username": self.username,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "resolution": self.resolution,
            "resolved_by": self.resolved_by,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_version": self.resolved_version,
        }


@dataclass(frozen=True)
class DeviceSync:
    """What the server knows of a device's syncs: the last one, the sync before its current
    session (`window_start_at`: its changes were made after it), and its clock's observed
    offset from the server's (seconds, device minus server)."""

    device_id: str
    user_id: Any
    last_sync_at: datetime | None
    window_start_at: datetime | None = None
    clock_offset_s: int | None = None


@dataclass(frozen=True)
class StoredBatch:
    """A push already answered: replaying its batch_id returns `response` unchanged."""

    batch_id: str
    user_id: Any
    device_id: str
    received_at: datetime
    response: Mapping[str, Any] = field(default_factory=dict)
