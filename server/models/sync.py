"""What the sync engine keeps: every version, the pull index, batches, changes, conflicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import JSONType, UTCDateTime


class RecordVersion(db.Model):
    """Each version's full data, with the server time it held from and until.

    ``valid_from``/``valid_to`` make any past day answerable ("what was late on 1 May").
    """

    __tablename__ = "record_versions"
    __table_args__ = (
        Index("ix_record_versions_entity_valid", "entity", "valid_from", "valid_to"),
        # Households deleted, with when: "which households were deleted on day D" (delays and
        # reports of a past day) reads this small index instead of every household version.
        Index(
            "ix_record_versions_deleted_households",
            "record_id",
            "valid_from",
            "valid_to",
            postgresql_where=text("entity = 'households' AND deleted IS TRUE"),
            sqlite_where=text("entity = 'households' AND deleted IS 1"),
        ),
    )

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict] = mapped_column(JSONType)
    commune_code: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    change_id: Mapped[str | None] = mapped_column(String(36))
    actor: Mapped[str | None] = mapped_column(String(80))
    device_id: Mapped[str | None] = mapped_column(String(120))
    batch_id: Mapped[str | None] = mapped_column(String(36))


class SyncIndex(db.Model):
    """One row per record: its latest version and the change sequence a pull reads.

    ``record_json`` is that version in the pull's shape (``Record.to_wire``) as JSON text,
    written with the version: a pull page is one range of this table, its rows spliced into
    the answer as they are stored - no join to ``record_versions``, nothing decoded.

    ``seq`` is assigned at the end of the writing transaction under a lock on
    ``sync_counter``, so sequences become visible in commit order and a pull that has
    read up to N never later meets a smaller committed number.
    """

    __tablename__ = "sync_index"
    __table_args__ = (
        Index("ix_sync_index_district_seq", "district_code", "seq"),
        Index("ix_sync_index_commune_seq", "commune_code", "seq"),
    )

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int]
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    commune_code: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(16))
    record_json: Mapped[str] = mapped_column(Text)


#: Pull-index rows are counted in buckets of this many sequence numbers (``SyncIndexCount``).
COUNT_BUCKET = 10_000


class SyncIndexCount(db.Model):
    """How many pull-index rows hold a sequence in ``bucket`` (``seq // COUNT_BUCKET``), per
    unit: ``unit_code`` is a commune's or a district's code, or ``''`` for every row (the
    province). Kept by triggers on ``sync_index`` (made by the migration, so every writer -
    a push, a decision, a seed in SQL - keeps it), read by the pull's ``remaining``: what is
    left after a cursor is the buckets above its own plus one bucket's range of the index,
    whatever the size of the database.
    """

    __tablename__ = "sync_index_counts"

    unit_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)


class SyncCounter(db.Model):
    __tablename__ = "sync_counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class SyncBatch(db.Model):
    """A pushed batch and the exact response given, replayed when the batch is sent again."""

    __tablename__ = "sync_batches"

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    device_id: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response: Mapped[dict] = mapped_column(JSONType)


class AppliedChange(db.Model):
    """The de-duplication ledger: a change_id that changed (or conflicted on) a record."""

    __tablename__ = "applied_changes"

    change_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None]
    conflict_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[int] = mapped_column(index=True)
    device_id: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_time: Mapped[str | None] = mapped_column(String(40))


class RejectedChange(db.Model):
    """A refused change, kept whole: nothing a collaborator typed is thrown away."""

    __tablename__ = "rejected_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[str] = mapped_column(String(36), unique=True)
    batch_id: Mapped[str | None] = mapped_column(String(36))
    username: Mapped[str | None] = mapped_column(String(80))
    unit_code: Mapped[str | None] = mapped_column(String(16))
    entity: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(36))
    op: Mapped[str | None] = mapped_column(String(16))
    base_version: Mapped[int | None]
    data: Mapped[dict | None] = mapped_column(JSONType)
    errors: Mapped[dict] = mapped_column(JSONType)
    client_time: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(index=True)
    device_id: Mapped[str | None] = mapped_column(String(120))
    commune_code: Mapped[str | None] = mapped_column(String(16), index=True)
    district_code: Mapped[str | None] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Conflict(db.Model):
    """Both sides of a field-level conflict, kept until a person resolves it."""

    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_status_district", "status", "district_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    commune_code: Mapped[str] = mapped_column(String(16), index=True)
    district_code: Mapped[str] = mapped_column(String(16))
    base_version: Mapped[int | None]
    server_version: Mapped[int]
    fields: Mapped[dict] = mapped_column(JSONType)
    device_id: Mapped[str | None] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(index=True)
    username: Mapped[str | None] = mapped_column(String(80))
    change_id: Mapped[str | None] = mapped_column(String(36))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_version: Mapped[int | None]


class DuplicateCase(db.Model):
    """Two households that may be one (``sync.duplicates``), until an official settles it."""

    __tablename__ = "duplicate_cases"
    __table_args__ = (Index("ix_duplicate_cases_status_opened_at", "status", "opened_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # derived from the pair
    household_a: Mapped[str] = mapped_column(String(36), index=True)
    household_b: Mapped[str] = mapped_column(String(36), index=True)
    reasons: Mapped[list] = mapped_column(JSONType)
    commune_code: Mapped[str] = mapped_column(String(16), index=True)
    district_code: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="open")
    decision: Mapped[str | None] = mapped_column(String(16))
    kept_id: Mapped[str | None] = mapped_column(String(36))
    settled_by: Mapped[str | None] = mapped_column(String(80))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(db.Model):
    """The append-only trail. Nothing in the code updates or deletes these rows."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_record", "entity", "record_id"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None]
    device_id: Mapped[str | None] = mapped_column(String(120))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    change_id: Mapped[str | None] = mapped_column(String(36))
    client_time: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(120))
    version: Mapped[int | None]
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    commune_code: Mapped[str | None] = mapped_column(String(16))
    district_code: Mapped[str | None] = mapped_column(String(16), index=True)
    # The hash chain (sync/trail.py): the entry's place, its predecessor's hash and its own.
    chain_position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))
    # When the change can really have been made: after the device's previous sync, before it
    # arrived; clock_suspect when the phone's client_time lies outside that window.
    made_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    made_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clock_suspect: Mapped[bool | None] = mapped_column(default=False)
