"""``SqlStore``: the engine's ``sync.store.Store`` over SQLAlchemy, one per request.

Reads of a batch are loaded up front by ``prefetch`` in a few set-based queries; writes are
buffered and flushed in bulk by ``flush`` (one statement per table), which the handler calls
just before it commits. Every read consults the buffer first, so the engine reads its own
writes (a registration after its new household in the same batch).

Concurrency: ``prefetch`` locks the pull-index rows of the records a batch touches (in one
sorted statement, so two batches cannot deadlock on each other) before it reads their
current versions; on PostgreSQL a second writer of the same record waits there and then
reads the first writer's committed version. SQLite writers are serialised by BEGIN
IMMEDIATE. A race the locks cannot cover (two devices creating the same new record) ends in
a unique-key violation at flush; the handler retries the whole transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import String, any_, delete, func, insert, literal, select, tuple_, union_all, update
from sqlalchemy.dialects.postgresql import ARRAY

from server.extensions import db
from server.models import AppliedChange as AppliedRow
from server.models import Conflict as ConflictRow
from server.models import (
    Device,
    Payout,
    RecordVersion,
    Registration,
    SupportItem,
    SyncBatch,
    SyncIndex,
    SyncIndexCount,
    User,
)
from server.models import RejectedChange as RejectedRow
from server.models import Unit as UnitRow
from server.models.sync import COUNT_BUCKET
from server.store import audit as audit_store
from server.store import bulk
from server.store import duplicates as duplicate_store
from server.store import records as record_store
from server.store.units import within
from sync.actors import PROVINCE, Scope
from sync.duplicates import DuplicateCase, HouseholdFacts
from sync.records import (
    AppliedChange,
    AuditEntry,
    Conflict,
    DeviceSync,
    EncodedData,
    FeedEntry,
    Record,
    RejectedChange,
    StoredBatch,
    Unit,
)

Key = tuple[str, str]
UNIT_COLUMNS = (UnitRow.code, UnitRow.level, UnitRow.parent_code, UnitRow.name)


def record_from_row(row: RecordVersion, seq: int | None = None) -> Record:
    return Record(
        entity=row.entity,
        id=row.record_id,
        version=row.version,
        deleted=row.deleted,
        data=row.data,
        commune_code=row.commune_code,
        district_code=row.district_code,
        written_at=row.valid_from,
        seq=seq,
    )


@cache
def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def columns_of(item: Any, **renamed: str) -> dict[str, Any]:
    """A frozen dataclass as a row's column values (JSON fields copied to plain dicts)."""
    values = {name: getattr(item, name) for name in field_names(type(item))}
    for attr, column in renamed.items():
        values[column] = values.pop(attr)
    return {k: (plain(v) if isinstance(v, Mapping) else v) for k, v in values.items()}


def plain(value: Mapping) -> dict:
    return {k: plain(v) if isinstance(v, Mapping) else v for k, v in value.items()}


def from_row(cls: type, row: Any) -> Any:
    """The dataclass ``cls`` built from a row with the same column names."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


def among_keys(model, keys: list[Key]):
    """``(entity, record_id)`` is one of ``keys``.

    PostgreSQL: ``entity = ANY(array) AND record_id = ANY(array)``, two parameters whatever
    the batch size - a row-value IN list of 500 pairs took several times longer to plan than
    to run. That is a superset when an id repeats under another entity, which callers drop
    by looking rows up by their exact key. SQLite: the row-value IN list itself.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return tuple_(model.entity, model.record_id).in_(keys)
    entities = sorted({entity for entity, _ in keys})
    ids = sorted({record_id for _, record_id in keys})
    return (model.entity == any_(literal(entities, ARRAY(String)))) & (
        model.record_id == any_(literal(ids, ARRAY(String)))
    )


class SqlStore:
    """The engine's store inside the current ``db.session`` transaction (see module doc)."""

    def __init__(self) -> None:
        self._units: dict[str, Unit | None] = {}
        self._current: dict[Key, Record | None] = {}
        self._versions: dict[tuple[str, str, int], Record | None] = {}
        self._applied: dict[str, AppliedChange | None] = {}
        self._new_versions: list[Record] = []
        self._new_applied: list[AppliedChange] = []
        self._new_audit: list[AuditEntry] = []
        self._new_conflicts: list[Conflict] = []
        self._rejected: dict[str, RejectedChange] = {}
        # Open conflicts read so far, by record; a key present was read (empty: none open).
        self._open_conflicts: dict[Key, list[Conflict]] = {}
        self._resolved: set[str] = set()
        self._duplicates: dict[str, DuplicateCase] = {}  # read or written in this transaction
        self._new_duplicates: list[DuplicateCase] = []

    # -- units ---------------------------------------------------------------------------
    def get_unit(self, code: str) -> Unit | None:
        if code not in self._units:
            found = self._select_units(UnitRow.code == code)
            self._units[code] = found[0] if found else None
        return self._units[code]

    def list_child_units(self, code: str) -> Sequence[Unit]:
        return self._select_units(UnitRow.parent_code == code)

    @staticmethod
    def _select_units(condition) -> list[Unit]:
        q = select(*UNIT_COLUMNS).where(condition).order_by(UnitRow.code)
        return [Unit(*row) for row in db.session.execute(q)]

    # -- batch reads -----------------------------------------------------------------------
    def prefetch(
        self,
        *,
        records: Iterable[Key] = (),
        versions: Iterable[tuple[str, str, int]] = (),
        change_ids: Iterable[str] = (),
        units: Iterable[str] = (),
        conflicts_on: Iterable[Key] = (),
    ) -> None:
        codes = [c for c in set(units) if c not in self._units]
        if codes:
            found_units = {unit.code: unit for unit in self._select_units(UnitRow.code.in_(codes))}
            for code in codes:
                self._units[code] = found_units.get(code)
        keys = sorted(set(records) - set(self._current))
        if keys:
            existing = self._lock(keys)
            self._load_current(keys, existing)
        wanted = [v for v in set(versions) if v not in self._versions]
        if wanted:
            q = select(RecordVersion).where(
                among_keys(RecordVersion, [(e, r) for e, r, _ in wanted]),
                RecordVersion.version.in_(sorted({v for _, _, v in wanted})),
            )
            found = {
                (r.entity, r.record_id, r.version): record_from_row(r)
                for r in db.session.execute(q).scalars()
            }
            for key in wanted:
                self._versions[key] = found.get(key)
        ids = [c for c in set(change_ids) if c not in self._applied]
        if ids:
            q = select(AppliedRow).where(AppliedRow.change_id.in_(ids))
            found_changes = {r.change_id: from_row(AppliedChange, r) for r in db.session.execute(q).scalars()}
            for change_id in ids:
                self._applied[change_id] = found_changes.get(change_id)
        held = sorted(set(conflicts_on) - set(self._open_conflicts))
        if held:
            q = select(ConflictRow).where(among_keys(ConflictRow, held), ConflictRow.status == "open")
            for key in held:
                self._open_conflicts[key] = []
            for row in db.session.execute(q).scalars():
                key = (row.entity, row.record_id)
                if key in self._open_conflicts:
                    self._open_conflicts[key].append(from_row(Conflict, row))

    def _lock(self, keys: list[Key]) -> set[Key] | None:
        """Row-lock the pull-index rows of existing records, in key order (PostgreSQL), and
        return which of ``keys`` exist (None on SQLite, where writers are serialised anyway).

        A statement of its own, before the read: joined to the versions in one locking
        statement, a row updated by a concurrent writer would be re-checked against the old
        version after the wait and silently dropped (PostgreSQL's EvalPlanQual), so the
        record would look new. Locked first, the next statement sees the committed version.
        """
        if db.session.get_bind().dialect.name != "postgresql":
            return None
        si = SyncIndex.__table__.c
        q = (
            select(si.entity, si.record_id)
            .where(among_keys(SyncIndex, keys))
            .order_by(si.entity, si.record_id)
            .with_for_update()
        )
        return {tuple(row) for row in db.session.execute(q)} & set(keys)

    def _load_current(self, keys: list[Key], existing: set[Key] | None = None) -> None:
        """The latest version of each of ``keys``; only of ``existing`` when known (a batch of
        new records then costs no read at all)."""
        look_up = keys if existing is None else sorted(existing)
        found = {}
        if look_up:
            q = select(RecordVersion).where(
                among_keys(RecordVersion, look_up), RecordVersion.valid_to.is_(None)
            )
            found = {(r.entity, r.record_id): record_from_row(r) for r in db.session.execute(q).scalars()}
        for key in keys:
            self._current[key] = found.get(key)

    def get_record(self, entity: str, record_id: str) -> Record | None:
        key = (entity, record_id)
        if key not in self._current:
            self._load_current([key])
        return self._current[key]

    def get_version(self, entity: str, record_id: str, version: int) -> Record | None:
        key = (entity, record_id, version)
        if key not in self._versions:
            self.prefetch(versions=[key])
        return self._versions[key]

    def list_versions(self, entity: str, record_id: str) -> list[Record]:
        # Rare (a phone echoing a server-managed value from an older version): one query.
        q = (
            select(RecordVersion)
            .where(RecordVersion.entity == entity, RecordVersion.record_id == record_id)
            .order_by(RecordVersion.version)
        )
        found = {r.version: record_from_row(r) for r in db.session.execute(q).scalars()}
        found.update({r.version: r for r in self._new_versions if (r.entity, r.id) == (entity, record_id)})
        return [found[version] for version in sorted(found)]

    def list_household_records(self, household_id: str) -> list[Record]:
        # One query over the three record tables (their rows are the committed current
        # versions), then this transaction's own writes laid over them.
        q = union_all(
            *(
                select(literal(model.__tablename__).label("entity"), model.id).where(
                    model.household_id == household_id
                )
                for model in (Registration, SupportItem, Payout)
            )
        )
        keys = {(entity, record_id) for entity, record_id in db.session.execute(q)}
        keys |= {(r.entity, r.id) for r in self._new_versions if r.data.get("household_id") == household_id}
        missing = sorted(keys - set(self._current))
        if missing:
            self._load_current(missing)
        return [self._current[key] for key in sorted(keys) if self._current[key] is not None]

    def get_rejected_change(self, change_id: str) -> RejectedChange | None:
        if change_id in self._rejected:
            return self._rejected[change_id]
        if any(c.change_id == change_id for c in self._new_applied):
            return None  # accepted in this very transaction: its old refusal goes at flush
        row = db.session.execute(select(RejectedRow).where(RejectedRow.change_id == change_id)).scalar()
        return from_row(RejectedChange, row) if row is not None else None

    def get_applied_change(self, change_id: str) -> AppliedChange | None:
        if change_id not in self._applied:
            self.prefetch(change_ids=[change_id])
        return self._applied[change_id]

    def get_batch(self, batch_id: str) -> StoredBatch | None:
        row = db.session.get(SyncBatch, batch_id)
        if row is None:
            return None
        return StoredBatch(row.batch_id, row.user_id, row.device_id, row.received_at, row.response)

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        for conflict in self._new_conflicts:
            if conflict.id == conflict_id:
                return conflict
        row = db.session.get(ConflictRow, conflict_id)
        return from_row(Conflict, row) if row else None

    def list_open_conflicts(self, records: Iterable[Key]) -> list[Conflict]:
        keys = set(records)
        self.prefetch(conflicts_on=keys)
        found = {c.id: c for key in keys for c in self._open_conflicts[key]}
        # This transaction's own: conflicts opened, and resolutions saved, since the read.
        for conflict in self._new_conflicts:
            if (conflict.entity, conflict.record_id) in keys:
                found[conflict.id] = conflict
        for conflict_id in self._resolved:
            found.pop(conflict_id, None)
        return sorted((c for c in found.values() if c.status == "open"), key=lambda c: (c.created_at, c.id))

    # -- possible duplicates ---------------------------------------------------------------
    def find_duplicate_candidates(self, households: Sequence[HouseholdFacts]) -> list[HouseholdFacts]:
        """One statement over the committed households (``ix_households_commune_*``); this
        batch's own households are the engine's to add."""
        return duplicate_store.find_candidates(households)

    def get_duplicate_cases(self, case_ids: Iterable[str]) -> dict[str, DuplicateCase]:
        wanted = set(case_ids)
        missing = sorted(wanted - set(self._duplicates))
        if missing:
            self._duplicates.update(duplicate_store.get_cases(missing))
        return {i: self._duplicates[i] for i in wanted if i in self._duplicates}

    def get_duplicate_case(self, case_id: str) -> DuplicateCase | None:
        if case_id not in self._duplicates:
            found = duplicate_store.get_case_to_settle(case_id)
            if found is None:
                return None
            self._duplicates[case_id] = found
        return self._duplicates[case_id]

    def create_duplicate_case(self, case: DuplicateCase) -> None:
        self._duplicates[case.id] = case
        self._new_duplicates.append(case)

    def save_duplicate_settlement(self, case: DuplicateCase) -> None:
        self._duplicates[case.id] = case
        if any(c.id == case.id for c in self._new_duplicates):
            self._new_duplicates = [case if c.id == case.id else c for c in self._new_duplicates]
            return
        duplicate_store.save_settlement(case)

    # -- feeds and listings ----------------------------------------------------------------
    def list_feed(self, scope: Scope, after: int, limit: int) -> list[FeedEntry]:
        """The feed after ``after``: one range of the pull index (its seq index, or the unit's),
        each row's ``record_json`` - the record in the contract's shape, written with its
        version - handed over as the text it is stored as. Python decodes nothing and builds
        no object per record; the pull view splices the text into its answer.

        No join to ``record_versions``: joined, a page of 1,000 cost PostgreSQL a hash of the
        whole versions table at 10,000 records (16 ms against 0.4 ms for the range alone).
        """
        si = SyncIndex.__table__.c
        # The province holds every record there is: no filter, so the seq index serves it.
        q = select(si.seq, si.record_json).where(si.seq > after, within(scope, si))
        q = q.order_by(si.seq).limit(limit)
        return [FeedEntry(seq, EncodedData(text)) for seq, text in db.session.execute(q)]

    def count_feed(self, scope: Scope, after: int) -> int:
        """What is left to pull after ``after``, exactly, in one statement of bounded cost: the
        pull index's rows after ``after`` inside its bucket of sequences (at most
        ``COUNT_BUCKET`` index entries, the same index ``list_feed`` reads), plus the counts
        kept per bucket above it (``SyncIndexCount``). Counting every row after the cursor
        cost a page of a million-record first sync a count of half a million rows on average.
        """
        si = SyncIndex.__table__.c
        bucket = after // COUNT_BUCKET
        inside = select(func.count()).select_from(SyncIndex.__table__)
        inside = inside.where(si.seq > after, si.seq < (bucket + 1) * COUNT_BUCKET, within(scope, si))
        unit = "" if scope.level == PROVINCE else scope.code  # the province's counts: every record
        kept = SyncIndexCount.__table__.c
        above = select(func.coalesce(func.sum(kept.n), 0)).where(kept.unit_code == unit, kept.bucket > bucket)
        total = select(inside.scalar_subquery() + above.scalar_subquery())
        return int(db.session.execute(total).scalar_one())

    def list_conflicts(
        self,
        scope: Scope,
        *,
        status: str | None = None,
        entity: str | None = None,
        unit_code: str | None = None,
    ) -> list[Conflict]:
        q = (
            select(ConflictRow)
            .where(within(scope, ConflictRow))
            .order_by(ConflictRow.created_at, ConflictRow.id)
        )
        if status:
            q = q.where(ConflictRow.status == status)
        if entity:
            q = q.where(ConflictRow.entity == entity)
        if unit_code:
            q = q.where((ConflictRow.commune_code == unit_code) | (ConflictRow.district_code == unit_code))
        return [from_row(Conflict, r) for r in db.session.execute(q).scalars()]

    # -- writes ------------------------------------------------------------------------------
    def save_version(self, record: Record) -> None:
        self._new_versions.append(record)
        self._current[(record.entity, record.id)] = record
        self._versions[(record.entity, record.id, record.version)] = record

    def save_applied_change(self, change: AppliedChange) -> None:
        self._new_applied.append(change)
        self._applied[change.change_id] = change
        self._rejected.pop(change.change_id, None)  # refused earlier in this very batch

    def save_rejected_change(self, change: RejectedChange) -> None:
        self._rejected[change.change_id] = change

    def create_conflict(self, conflict: Conflict) -> None:
        self._new_conflicts.append(conflict)

    def save_conflict_resolution(self, conflict: Conflict) -> None:
        pending = [c for c in self._new_conflicts if c.id == conflict.id]
        if pending:
            self._new_conflicts[self._new_conflicts.index(pending[0])] = conflict
            return
        self._resolved.add(conflict.id)
        values = columns_of(conflict)
        db.session.execute(update(ConflictRow).where(ConflictRow.id == conflict.id).values(**values))

    def append_audit(self, entry: AuditEntry) -> None:
        self._new_audit.append(entry)

    def save_batch(self, batch: StoredBatch) -> None:
        db.session.add(
            SyncBatch(
                batch_id=batch.batch_id,
                user_id=batch.user_id,
                device_id=batch.device_id,
                received_at=batch.received_at,
                response=dict(batch.response),
            )
        )

    def get_device(self, device_id: str) -> DeviceSync | None:
        row = db.session.get(Device, device_id)
        if row is None:
            return None
        return DeviceSync(row.id, row.user_id, row.last_sync_at, row.window_start_at, row.clock_offset_s)

    def touch_device(
        self,
        device_id: str,
        user_id: Any,
        at: datetime,
        window_start_at: datetime | None = None,
        clock_offset_s: int | None = None,
    ) -> None:
        # An upsert: two first pushes of one new phone must not collide on its row.
        row = {
            "id": device_id,
            "user_id": user_id,
            "first_seen_at": at,
            "last_sync_at": at,
            "window_start_at": window_start_at,
        }
        if clock_offset_s is not None:
            row["clock_offset_s"] = clock_offset_s
        record_store.upsert(Device.__table__, [row], ["id"], insert_only=("first_seen_at",))
        db.session.execute(update(User).where(User.id == user_id).values(last_sync_at=at))

    # -- flush -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered, in bulk, then number the pull index. Call before commit."""
        meta = {(e.entity, e.record_id, e.version): e for e in self._new_audit}
        record_store.save_versions(
            [
                record_store.VersionWrite(
                    r.entity,
                    r.id,
                    r.version,
                    dict(r.data),
                    r.deleted,
                    r.commune_code,
                    r.district_code,
                    r.written_at,
                    **version_meta(meta.get((r.entity, r.id, r.version))),
                )
                for r in self._new_versions
            ]
        )
        if self._new_applied:
            bulk.append(AppliedRow.__table__, [columns_of(c) for c in self._new_applied])
        # One statement drops the rows a refusal replaces and those of changes now applied
        # (a refused change sent again and accepted is no longer a refusal).
        spent = [*self._rejected, *(c.change_id for c in self._new_applied)]
        if spent:
            db.session.execute(delete(RejectedRow).where(RejectedRow.change_id.in_(spent)))
        if self._rejected:
            db.session.execute(insert(RejectedRow), [columns_of(c) for c in self._rejected.values()])
        if self._new_conflicts:
            db.session.execute(insert(ConflictRow), [columns_of(c) for c in self._new_conflicts])
        duplicate_store.create_cases(self._new_duplicates)
        db.session.flush()
        record_store.assign_sequences()
        # Last, under the feed counter's lock taken just above: the audit chain's next links.
        audit_store.append_chained([columns_of(e, username="actor") for e in self._new_audit])
        self._new_versions, self._new_applied, self._new_audit, self._new_conflicts = [], [], [], []
        self._rejected = {}
        self._new_duplicates = []


def version_meta(entry: AuditEntry | None) -> dict[str, Any]:
    """Who wrote a version: taken from the audit entry the engine appended with it."""
    if entry is None:
        return {}
    return {
        "change_id": entry.change_id,
        "actor": entry.username,
        "device_id": entry.device_id,
        "batch_id": entry.batch_id,
    }
