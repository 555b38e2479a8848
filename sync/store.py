"""The storage interface the engine talks to: `Store`.

Modelled on Kinto's `StorageBase`: the engine decides, a store only keeps. `sync.memory.
MemoryStore` implements it in memory (tests, Hypothesis); the server's SQL store implements it
over SQLAlchemy. Both must pass the same behaviour.

Unit of work
    A store object serves ONE request inside ONE database transaction, opened and committed
    (or rolled back) by the caller, never by the store or the engine. The engine only calls
    the methods below; a result is reported to a device only once the caller has committed.

Read your writes
    Every read must reflect every write made before it on the same store object, flushed or
    not: a registration pushed after its household in the same batch must find the
    household, and the second edit of a record in one batch must see the first. A SQL store
    may buffer writes and flush them in bulk (one INSERT per table at the end) as long as its
    read path consults the buffer (an identity map keyed like the reads below).

Prefetch
    Before applying a batch the engine calls `prefetch(...)` once with every key the batch
    will read. A SQL store loads them in a few set-based queries (`WHERE (entity, id) IN ...`)
    and serves the per-change reads from memory, so a 500-change push costs a handful of
    round trips. A read of a key that was not prefetched must still work (one query).

Concurrency (SQL stores)
    - (entity, id, version), change_id and batch_id are unique: two transactions racing on
      the same record or batch must make one of them fail to commit (unique constraint or
      lock), never both succeed. The server answers the loser 503 `retry`.
    - Change-feed positions (`Record.seq`) must become visible in increasing order: a pull must
      never see seq N+1 committed while N is still to come. The simple way: every writing
      transaction takes one transaction-scoped lock (PostgreSQL `pg_advisory_xact_lock`;
      SQLite writers are serialised already) before its first write and numbers versions
      after taking it.

Times are aware datetimes supplied by the engine; stores never read the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sync.actors import Scope
from sync.records import (
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

if TYPE_CHECKING:
    from sync.duplicates import DuplicateCase, HouseholdFacts


@runtime_checkable
class Store(Protocol):
    # -- units ---------------------------------------------------------------------------
    def get_unit(self, code: str) -> Unit | None:
        """The unit with this code, or None. Called often: cache all units (there are ~260)."""
        ...

    def list_child_units(self, code: str) -> Sequence[Unit]:
        """The units whose parent is `code`, in code order (empty for a commune)."""
        ...

    # -- batch reads -----------------------------------------------------------------------
    def prefetch(
        self,
        *,
        records: Iterable[tuple[str, str]] = (),
        versions: Iterable[tuple[str, str, int]] = (),
        change_ids: Iterable[str] = (),
        units: Iterable[str] = (),
        conflicts_on: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Hint: the current record of each `(entity, id)`, each `(entity, id, version)`, each
        applied change_id, each unit code and the open conflicts on each `conflicts_on` record
        are about to be read. Loads them in bulk; returns nothing, raises
        nothing for keys that do not exist (they are simply absent). Purely an optimisation:
        a store may ignore it."""
        ...

    def get_record(self, entity: str, record_id: str) -> Record | None:
        """The record's latest version (a tombstone when deleted), or None if it never existed."""
        ...

    def get_version(self, entity: str, record_id: str, version: int) -> Record | None:
        """That exact version of the record (every version is kept), or None."""
        ...

    def list_versions(self, entity: str, record_id: str) -> list[Record]:
        """Every version of the record, oldest first (empty if it never existed). Rarely
        called by the engine (a device echoing an old server-managed value); not prefetched."""
        ...

    def list_household_records(self, household_id: str) -> list[Record]:
        """The current version of every registration, support item and payout of the
        household (tombstones included), as this transaction sees them. Read only when a
        household is deleted; not prefetched."""
        ...

    def get_applied_change(self, change_id: str) -> AppliedChange | None:
        """The applied/merged/conflict outcome of this change_id, or None if never accepted.
        (Rejected changes are not "applied": a rejected change_id may be sent again.)"""
        ...

    def get_rejected_change(self, change_id: str) -> RejectedChange | None:
        """The stored refusal of this change_id (the latest, when it was refused again), or
        None when it was never refused or was accepted since."""
        ...

    def get_batch(self, batch_id: str) -> StoredBatch | None:
        """The answered batch with this id, or None."""
        ...

    def get_conflict(self, conflict_id: str) -> Conflict | None:
        """The conflict with this id (open or resolved), or None."""
        ...

    def list_open_conflicts(self, records: Iterable[tuple[str, str]]) -> list[Conflict]:
        """The open conflicts on any of these `(entity, id)` records (this transaction's own
        included), oldest first. Read before a decision and before a payout is approved or
        disbursed; a push announces the keys in `prefetch(conflicts_on=...)`, so a SQL store
        reads them all in one query."""
        ...

    # -- feeds and listings ----------------------------------------------------------------
    def list_feed(self, scope: Scope, after: int, limit: int) -> list[FeedEntry]:
        """Records inside `scope` whose latest write has a feed position greater than `after`,
        in increasing `seq`, each record once at its latest version (tombstones included), at
        most `limit` of them, as `FeedEntry(seq, record.to_wire())`. Scope filter:
        `commune_code = scope.code` (commune), `district_code = scope.code` (district) or
        `district_code IN scope.district_codes` (province). Positions are > 0; `after=0`
        lists everything. Must cost in proportion to the rows returned (an index on seq, or
        on (unit, seq))."""
        ...

    def count_feed(self, scope: Scope, after: int) -> int:
        """How many records inside `scope` `list_feed(scope, after, ...)` would list with no
        limit: what a device has still to pull after feed position `after`. Must cost no more
        than that count (the same index as `list_feed`), better a bounded amount (the SQL store
        reads counts kept per bucket of positions: one page of a large first sync must not
        count the whole rest of it); never reads record data."""
        ...

    def list_conflicts(
        self,
        scope: Scope,
        *,
        status: str | None = None,
        entity: str | None = None,
        unit_code: str | None = None,
    ) -> list[Conflict]:
        """Conflicts inside `scope`, optionally only of one status (`open`/`resolved`), one
        entity, and one unit (a commune or district code matched against the conflict's
        commune_code or district_code), oldest first."""
        ...

    # -- possible duplicates (sync.duplicates) -----------------------------------------------
    def find_duplicate_candidates(self, households: Sequence[HouseholdFacts]) -> list[HouseholdFacts]:
        """The households not deleted, in the communes of `households`, that share a `code`,
        a `head_name_key` or a `phone_key` with one of them in the same commune (a superset
        of the matches: the engine judges each pair). Read once per batch that wrote
        households; a SQL store answers it in one indexed query."""
        ...

    def get_duplicate_cases(self, case_ids: Iterable[str]) -> dict[str, DuplicateCase]:
        """The cases among these ids that exist (open or settled, this transaction's own
        included), by id. One query."""
        ...

    def get_duplicate_case(self, case_id: str) -> DuplicateCase | None:
        """The case with this id, or None. Read before a settlement: a SQL store locks its row
        until commit, so two settlements of one case take turns (the second finds it settled)."""
        ...

    def create_duplicate_case(self, case: DuplicateCase) -> None:
        """Store a new open case. Its id is the pair's: a second one of the same id is a
        concurrency failure of the transaction (the retry then finds the first)."""
        ...

    def save_duplicate_settlement(self, case: DuplicateCase) -> None:
        """Replace the case with `case` (same id, now settled)."""
        ...

    # -- writes (buffered freely until the caller commits) ----------------------------------
    def save_version(self, record: Record) -> None:
        """Append a version of a record. `record.version` is the current version + 1 (1 for a
        new record); the store gives it the next feed position. Raises nothing the engine
        handles: a clash on (entity, id, version) is a concurrency failure of the
        transaction."""
        ...

    def save_applied_change(self, change: AppliedChange) -> None:
        """Spend a change_id: later arrivals of it are answered `duplicate`. A rejection kept
        for the same change_id (an earlier attempt, refused) is dropped: the change went
        through after all, and counting it as refused would overstate the sender's errors."""
        ...

    def save_rejected_change(self, change: RejectedChange) -> None:
        """Keep a refused change for supervisors. One row per change_id: a change refused
        again replaces its earlier row (a phone retrying is not a second refusal); a change
        applied later removes it (see `save_applied_change`)."""
        ...

    def create_conflict(self, conflict: Conflict) -> None:
        """Store a new open conflict."""
        ...

    def save_conflict_resolution(self, conflict: Conflict) -> None:
        """Replace the conflict with `conflict` (same id, now resolved)."""
        ...

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit trail (never updated, never deleted)."""
        ...

    def save_batch(self, batch: StoredBatch) -> None:
        """Remember a batch's response so a replay of its batch_id returns it unchanged."""
        ...

    def get_device(self, device_id: str) -> DeviceSync | None:
        """What is known of this device's syncs, or None for a device never seen."""
        ...

    def touch_device(
        self,
        device_id: str,
        user_id: Any,
        at: datetime,
        window_start_at: datetime | None = None,
        clock_offset_s: int | None = None,
    ) -> None:
        """Record a successful sync of this device by this user at `at` (an aware datetime):
        sets the device's and the user's last-sync time (used by `collaborator_silent`), the
        start of the device's current session's window and its observed clock offset (None:
        keep the one known)."""
        ...
