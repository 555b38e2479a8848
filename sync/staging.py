"""`StagedStore`: a store's view with writes held back until `commit()`.

The engine pushes one ODK form all or nothing (`sync.engine.push_form`): every change of the
form is planned and carried out against a `StagedStore` wrapping the real store, so later
changes see earlier ones (a registration finds the household the same form created), yet
nothing reaches the real store unless every change was accepted. Then `commit()` replays the
held writes onto it, in order; a refused form simply drops the stage. No savepoint, no
rollback, the same on the memory store and on SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sync.actors import Scope
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
from sync.store import Store


class StagedStore:
    """A `Store` that reads through to `base` and holds every write until `commit()`."""

    def __init__(self, base: Store) -> None:
        self.base = base
        self.writes: list[tuple[str, Any]] = []  # (Store method, its argument), in order
        self._records: dict[tuple[str, str], list[Record]] = {}
        self._applied: dict[str, AppliedChange] = {}
        self._rejected: dict[str, RejectedChange] = {}
        self._conflicts: dict[str, Conflict] = {}
        self._batches: dict[str, StoredBatch] = {}

    def commit(self) -> None:
        """Make every held write on the base store, in the order it was made."""
        writes, self.writes = self.writes, []
        for method, argument in writes:
            getattr(self.base, method)(*argument)

    # -- reads: the held writes first, then the base ----------------------------------------
    def get_unit(self, code: str) -> Unit | None:
        return self.base.get_unit(code)

    def list_child_units(self, code: str) -> Sequence[Unit]:
        return self.base.list_child_units(code)

    def prefetch(self, **keys: Iterable[Any]) -> None:
        self.base.prefetch(**keys)

    def get_record(self, entity: str, record_id: str) -> Record | None:
        held = self._records.get((entity, record_id))
        return held[-1] if held else self.base.get_record(entity, record_id)

    def get_version(self, entity: str, record_id: str, version: int) -> Record | None:
        for record in self._records.get((entity, record_id), ()):
            if record.version == version:
                return record
        return self.base.get_version(entity, record_id, version)

    def list_versions(self, entity: str, record_id: str) -> list[Record]:
        return self.base.list_versions(entity, record_id) + list(self._records.get((entity, record_id), ()))

    def list_household_records(self, household_id: str) -> list[Record]:
        found = {(r.entity, r.id): r for r in self.base.list_household_records(household_id)}
        for (entity, record_id), held in self._records.items():
            if entity != HOUSEHOLDS and held[-1].data.get("household_id") == household_id:
                found[(entity, record_id)] = held[-1]
        return list(found.values())

    def get_applied_change(self, change_id: str) -> AppliedChange | None:
        return self._applied.get(change_id) or self.base.get_applied_change(change_id)

    def get_rejected_change(self, change_id: str) -> RejectedChange | None:
        if change_id in self._applied:
            return None
        return self._rejected.get(change_id) or self.base.get_rejected_change(change_id)

    def get_batch(self, batch_id: str) -> StoredBatch | None:
        return self._batches.get(batch_id) or self.base.get_batch(batch_id)

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        return self._conflicts.get(conflict_id) or self.base.get_conflict(conflict_id)

    def list_feed(self, scope: Scope, after: int, limit: int) -> list[FeedEntry]:
        return self.base.list_feed(scope, after, limit)  # a push never reads the feed

    def list_conflicts(self, scope: Scope, **filters: Any) -> list[Conflict]:
        return self.base.list_conflicts(scope, **filters)  # nor lists conflicts

    def find_duplicate_candidates(self, households: Sequence[Any]) -> list[Any]:
        return self.base.find_duplicate_candidates(households)  # a form's are judged after commit

    def get_duplicate_cases(self, case_ids: Iterable[str]) -> dict[str, Any]:
        return self.base.get_duplicate_cases(case_ids)

    def get_duplicate_case(self, case_id: str) -> Any:
        return self.base.get_duplicate_case(case_id)

    # -- writes: held ------------------------------------------------------------------------
    def create_duplicate_case(self, case: Any) -> None:
        self.writes.append(("create_duplicate_case", (case,)))

    def save_duplicate_settlement(self, case: Any) -> None:
        self.writes.append(("save_duplicate_settlement", (case,)))

    def save_version(self, record: Record) -> None:
        self._records.setdefault((record.entity, record.id), []).append(record)
        self.writes.append(("save_version", (record,)))

    def save_applied_change(self, change: AppliedChange) -> None:
        self._applied[change.change_id] = change
        self._rejected.pop(change.change_id, None)
        self.writes.append(("save_applied_change", (change,)))

    def save_rejected_change(self, change: RejectedChange) -> None:
        self._rejected[change.change_id] = change
        self.writes.append(("save_rejected_change", (change,)))

    def create_conflict(self, conflict: Conflict) -> None:
        self._conflicts[conflict.id] = conflict
        self.writes.append(("create_conflict", (conflict,)))

    def save_conflict_resolution(self, conflict: Conflict) -> None:
        self._conflicts[conflict.id] = conflict
        self.writes.append(("save_conflict_resolution", (conflict,)))

    def append_audit(self, entry: AuditEntry) -> None:
        self.writes.append(("append_audit", (entry,)))

    def save_batch(self, batch: StoredBatch) -> None:
        self._batches[batch.batch_id] = batch
        self.writes.append(("save_batch", (batch,)))

    def touch_device(
        self,
        device_id: str,
        user_id: Any,
        at: datetime,
        window_start_at: datetime | None = None,
        clock_offset_s: int | None = None,
    ) -> None:
        self.writes.append(("touch_device", (device_id, user_id, at, window_start_at, clock_offset_s)))

    def get_device(self, device_id: str) -> DeviceSync | None:
        return self.base.get_device(device_id)

    def list_open_conflicts(self, records: Iterable[tuple[str, str]]) -> list[Conflict]:
        keys = set(records)
        found = {c.id: c for c in self.base.list_open_conflicts(keys)}
        for conflict in self._conflicts.values():  # held: opened or resolved in this stage
            if (conflict.entity, conflict.record_id) in keys:
                found[conflict.id] = conflict
        return sorted((c for c in found.values() if c.status == "open"), key=lambda c: (c.created_at, c.id))
