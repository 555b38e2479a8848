"""`MemoryStore`: the whole `Store` protocol kept in dictionaries.

Used by the engine's tests and property tests, where thousands of interleavings must run in
seconds. Writes take effect at once; there is no rollback (the engine never needs one: a
refused change writes nothing).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.actors import Scope
from sync.duplicates import DuplicateCase, HouseholdFacts, match_keys
from sync.records import (
    HOUSEHOLDS,
    AppliedChange,
    AuditEntry,
    Conflict,
    DeviceSync,
    FeedEntry,
    Record,
    RejectedChange,
    StoredBatch,
    Unit,
)


class MemoryStore:
    """An in-memory Store. `units` are the administrative units (see `load_units_csv`)."""

    def __init__(self, units: Iterable[Unit] = ()) -> None:
        self.units: dict[str, Unit] = {unit.code: unit for unit in units}
        self.versions: dict[tuple[str, str], list[Record]] = {}
        # Feed position -> record key; a key moves to the end each time it is written, and
        # dicts keep insertion order, so iteration is in position order.
        self.feed: dict[int, tuple[str, str]] = {}
        self.positions: dict[tuple[str, str], int] = {}
        self.last_position = 0
        self.applied: dict[str, AppliedChange] = {}
        self.rejected: dict[str, RejectedChange] = {}
        self.conflicts: dict[str, Conflict] = {}
        self.audit: list[AuditEntry] = []
        self.batches: dict[str, StoredBatch] = {}
        self.device_syncs: dict[str, datetime] = {}
        self.devices: dict[str, DeviceSync] = {}
        self.user_syncs: dict[Any, datetime] = {}
        self.duplicates: dict[str, DuplicateCase] = {}

    # -- units -----------------------------------------------------------------------------
    def get_unit(self, code: str) -> Unit | None:
        return self.units.get(code)

    def list_child_units(self, code: str) -> Sequence[Unit]:
        return sorted(
            (unit for unit in self.units.values() if unit.parent_code == code), key=lambda u: u.code
        )

    # -- reads -----------------------------------------------------------------------------
    def prefetch(
        self,
        *,
        records: Iterable[tuple[str, str]] = (),
        versions: Iterable[tuple[str, str, int]] = (),
        change_ids: Iterable[str] = (),
        units: Iterable[str] = (),
        conflicts_on: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Everything is in memory already."""

    def get_record(self, entity: str, record_id: str) -> Record | None:
        history = self.versions.get((entity, record_id))
        if not history:
            return None
        return _with_seq(history[-1], self.positions[(entity, record_id)])

    def get_version(self, entity: str, record_id: str, version: int) -> Record | None:
        history = self.versions.get((entity, record_id), [])
        return history[version - 1] if 1 <= version <= len(history) else None

    def list_versions(self, entity: str, record_id: str) -> list[Record]:
        return list(self.versions.get((entity, record_id), []))

    def list_household_records(self, household_id: str) -> list[Record]:
        return [
            history[-1]
            for (entity, _), history in self.versions.items()
            if entity != HOUSEHOLDS and history[-1].data.get("household_id") == household_id
        ]

    def get_rejected_change(self, change_id: str) -> RejectedChange | None:
        return self.rejected.get(change_id)

    def get_applied_change(self, change_id: str) -> AppliedChange | None:
        return self.applied.get(change_id)

    def get_batch(self, batch_id: str) -> StoredBatch | None:
        return self.batches.get(batch_id)

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        return self.conflicts.get(conflict_id)

    def list_open_conflicts(self, records: Iterable[tuple[str, str]]) -> list[Conflict]:
        keys = set(records)
        found = [c for c in self.conflicts.values() if c.status == "open" and (c.entity, c.record_id) in keys]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def list_feed(self, scope: Scope, after: int, limit: int) -> list[FeedEntry]:
        page: list[FeedEntry] = []
        for position, key in self.feed.items():
            if position <= after:
                continue
            record = self.versions[key][-1]
            if scope.covers(record.commune_code, record.district_code):
                page.append(FeedEntry(position, record.to_wire()))
                if len(page) == limit:
                    break
        return page

    def count_feed(self, scope: Scope, after: int) -> int:
        return sum(
            1
            for position, key in self.feed.items()
            if position > after
            and scope.covers(self.versions[key][-1].commune_code, self.versions[key][-1].district_code)
        )

    def list_conflicts(
        self,
        scope: Scope,
        *,
        status: str | None = None,
        entity: str | None = None,
        unit_code: str | None = None,
    ) -> list[Conflict]:
        return [
            conflict
            for conflict in self.conflicts.values()
            if scope.covers(conflict.commune_code, conflict.district_code)
            and status in (None, conflict.status)
            and entity in (None, conflict.entity)
            and unit_code in (None, conflict.commune_code, conflict.district_code)
        ]

    # -- writes ----------------------------------------------------------------------------
    def save_version(self, record: Record) -> None:
        key = (record.entity, record.id)
        history = self.versions.setdefault(key, [])
        if record.version != len(history) + 1:
            raise ValueError(f"{key} version {record.version} after {len(history)}")
        history.append(record)
        self.last_position += 1
        old = self.positions.get(key)
        if old is not None:
            del self.feed[old]
        self.feed[self.last_position] = key
        self.positions[key] = self.last_position

    def save_applied_change(self, change: AppliedChange) -> None:
        if change.change_id in self.applied:
            raise ValueError(f"change {change.change_id} already applied")
        self.applied[change.change_id] = change
        self.rejected.pop(change.change_id, None)

    def save_rejected_change(self, change: RejectedChange) -> None:
        self.rejected[change.change_id] = change

    def create_conflict(self, conflict: Conflict) -> None:
        if conflict.id in self.conflicts:
            raise ValueError(f"conflict {conflict.id} exists")
        self.conflicts[conflict.id] = conflict

    def save_conflict_resolution(self, conflict: Conflict) -> None:
        self.conflicts[conflict.id] = conflict

    def find_duplicate_candidates(self, households: Sequence[HouseholdFacts]) -> list[HouseholdFacts]:
        wanted = {key for household in households for key in match_keys(household)}
        current = (history[-1] for (entity, _), history in self.versions.items() if entity == HOUSEHOLDS)
        candidates = (HouseholdFacts.of(record) for record in current if not record.deleted)
        return [facts for facts in candidates if wanted.intersection(match_keys(facts))]

    def get_duplicate_cases(self, case_ids: Iterable[str]) -> dict[str, DuplicateCase]:
        return {i: self.duplicates[i] for i in case_ids if i in self.duplicates}

    def get_duplicate_case(self, case_id: str) -> DuplicateCase | None:
        return self.duplicates.get(case_id)

    def create_duplicate_case(self, case: DuplicateCase) -> None:
        if case.id in self.duplicates:
            raise KeyError(f"duplicate case {case.id} exists")
        self.duplicates[case.id] = case

    def save_duplicate_settlement(self, case: DuplicateCase) -> None:
        self.duplicates[case.id] = case

    def append_audit(self, entry: AuditEntry) -> None:
        self.audit.append(entry)

    def save_batch(self, batch: StoredBatch) -> None:
        if batch.batch_id in self.batches:
            raise ValueError(f"batch {batch.batch_id} exists")
        self.batches[batch.batch_id] = batch

    def get_device(self, device_id: str) -> DeviceSync | None:
        return self.devices.get(device_id)

    def touch_device(
        self,
        device_id: str,
        user_id: Any,
        at: datetime,
        window_start_at: datetime | None = None,
        clock_offset_s: int | None = None,
    ) -> None:
        self.device_syncs[device_id] = at
        known = self.devices.get(device_id)
        if clock_offset_s is None and known is not None:
            clock_offset_s = known.clock_offset_s
        self.devices[device_id] = DeviceSync(device_id, user_id, at, window_start_at, clock_offset_s)
        self.user_syncs[user_id] = at


def load_units_csv(path: str | Path) -> list[Unit]:
    """Units from a `code,name,level,parent_code[,kind,mountain]` file (the load-units format)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Unit(row["code"], row["level"], row["parent_code"] or None, row["name"])
            for row in csv.DictReader(handle)
        ]


def _with_seq(record: Record, seq: int) -> Record:
    if record.seq == seq:
        return record
    return Record(
        record.entity,
        record.id,
        record.version,
        record.deleted,
        record.data,
        record.commune_code,
        record.district_code,
        record.written_at,
        seq,
    )
