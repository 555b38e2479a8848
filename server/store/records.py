"""SQL for the synced records: current state, every version, and the pull index.

The engine decides; this module only writes what it is told, in bulk. A write of a version
(``VersionWrite``) updates the entity's typed current-state row, closes the previous
version's validity and inserts the new one into ``record_versions``, and marks the record
for the pull index with its new version as the pull's JSON text. ``assign_sequences`` must
be the last statement before commit: it takes the counter row's lock, so sequence numbers
become visible in commit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, event, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server import jsontext
from server.extensions import db
from server.models import ENTITY_MODELS, RecordVersion, SyncCounter, SyncIndex
from server.store import bulk
from sync.duplicates import name_key, phone_key
from sync.records import HOUSEHOLDS

DATE_FIELDS = {"signed_on", "due_date", "delivered_on", "disbursed_on", "confirmed_on"}
DATETIME_FIELDS = {"submitted_at", "decided_at"}


@dataclass
class VersionWrite:
    """One new version of one record, as the engine decided it."""

    entity: str
    record_id: str
    version: int
    data: dict
    deleted: bool
    commune_code: str
    district_code: str
    at: datetime
    change_id: str | None = None
    actor: str | None = None
    device_id: str | None = None
    batch_id: str | None = None


def typed_columns(entity: str, data: dict) -> dict:
    """The entity table's column values for wire ``data`` (ISO strings become dates)."""
    model = ENTITY_MODELS[entity]
    names = {c.key for c in model.__table__.columns}
    out = {}
    for key, value in data.items():
        if key not in names:
            continue
        if value is not None and key in DATE_FIELDS and not isinstance(value, date):
            value = date.fromisoformat(value)
        elif value is not None and key in DATETIME_FIELDS and not isinstance(value, datetime):
            value = datetime.fromisoformat(value)
        out[key] = value
    if entity == HOUSEHOLDS:
        # The keys possible duplicates are matched by, kept beside what they derive from.
        out["head_name_key"] = name_key(data.get("head_name"))
        out["phone_key"] = phone_key(data.get("phone"))
        out.setdefault("merged_into", None)
    return out


def upsert(table, rows: list[dict], keys: list[str], insert_only: tuple[str, ...] = ()) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, on PostgreSQL and SQLite alike."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Rows with different column sets cannot share one statement.
    by_shape: dict[tuple, list[dict]] = {}
    for row in rows:
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    for shape, group in by_shape.items():
        stmt = insert(table)
        updates = {c: stmt.excluded[c] for c in shape if c not in keys and c not in insert_only}
        db.session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), group)


def save_versions(writes: list[VersionWrite]) -> None:
    """Write new versions in bulk (several versions of one record allowed, in order)."""
    if not writes:
        return
    latest: dict[tuple[str, str], VersionWrite] = {}
    for w in writes:
        latest[(w.entity, w.record_id)] = w
    # Close the validity of each record's previous version (the one before its first new write).
    first: dict[tuple[str, str], VersionWrite] = {}
    for w in writes:
        first.setdefault((w.entity, w.record_id), w)
    closing = [
        {"e": w.entity, "r": w.record_id, "v": w.version - 1, "at": w.at}
        for w in first.values()
        if w.version > 1
    ]
    if closing:
        table = RecordVersion.__table__
        stmt = (
            update(table)
            .where(
                table.c.entity == bindparam("e"),
                table.c.record_id == bindparam("r"),
                table.c.version == bindparam("v"),
            )
            .values(valid_to=bindparam("at"))
        )
        db.session.execute(stmt, closing)
    # Each version is valid until the next write of the same record in this batch: one reverse
    # pass remembers, per record, when its later version starts.
    valid_to: list = [None] * len(writes)
    later: dict[tuple[str, str], object] = {}
    for i in range(len(writes) - 1, -1, -1):
        w = writes[i]
        key = (w.entity, w.record_id)
        valid_to[i] = later.get(key)
        later[key] = w.at
    rows = []
    for i, w in enumerate(writes):
        rows.append(
            {
                "entity": w.entity,
                "record_id": w.record_id,
                "version": w.version,
                "deleted": w.deleted,
                "data": w.data,
                "commune_code": w.commune_code,
                "district_code": w.district_code,
                "valid_from": w.at,
                "valid_to": valid_to[i],
                "change_id": w.change_id,
                "actor": w.actor,
                "device_id": w.device_id,
                "batch_id": w.batch_id,
            }
        )
    bulk.append(RecordVersion.__table__, rows)
    by_entity: dict[str, list[dict]] = {}
    for w in latest.values():
        row = typed_columns(w.entity, w.data)
        row.update(
            id=w.record_id,
            version=w.version,
            deleted=w.deleted,
            commune_code=w.commune_code,
            district_code=w.district_code,
            updated_at=w.at,
            deleted_at=w.at if w.deleted else None,
        )
        # created_at is written on insert only (see upsert), so an update keeps the original.
        row["created_at"] = first[(w.entity, w.record_id)].at
        by_entity.setdefault(w.entity, []).append(row)
    for entity, group in by_entity.items():
        upsert(ENTITY_MODELS[entity].__table__, group, ["id"], insert_only=("created_at",))
    index_rows = [
        {
            "entity": w.entity,
            "record_id": w.record_id,
            "version": w.version,
            "seq": None,
            "commune_code": w.commune_code,
            "district_code": w.district_code,
            "record_json": wire_json(w),
        }
        for w in latest.values()
    ]
    stage_index(index_rows)


def wire_json(w: VersionWrite) -> str:
    """The version as a pulled record (``Record.to_wire``'s shape), as JSON text."""
    return jsontext.dumps_text(
        {"entity": w.entity, "id": w.record_id, "version": w.version, "deleted": w.deleted, "data": w.data}
    )


PENDING = "sync_pending"  # the session's records staged for the pull index, not yet numbered


def stage_index(rows: list[dict]) -> None:
    """Remember which records this transaction touched; sequences come at the end."""
    pending = db.session.info.setdefault(PENDING, {})
    for row in rows:
        pending[(row["entity"], row["record_id"])] = row


@event.listens_for(Session, "after_rollback")
def forget_staged(session: Session) -> None:
    """What a transaction staged for the pull index dies with it: a write retried after a
    failure between staging and numbering (the ledger's key, two phones sending one change)
    must not number the failed attempt's versions - records it never committed, or older
    versions than those committed since - in the next transaction of the same session."""
    session.info.pop(PENDING, None)


def assign_sequences() -> int:
    """Give every record touched in this transaction its pull sequence; call just before commit.

    ``UPDATE sync_counter ... RETURNING`` locks the counter row until commit, so two
    transactions take their ranges one after the other and commit in that order: a pull
    that has read sequence N never later finds a smaller one committed behind it.
    Returns the highest sequence assigned (0 when nothing was touched).
    """
    pending = db.session.info.pop(PENDING, {})
    if not pending:
        return 0
    n = len(pending)
    top = db.session.execute(
        update(SyncCounter)
        .where(SyncCounter.name == "changes")
        .values(value=SyncCounter.value + n)
        .returning(SyncCounter.value)
    ).scalar_one_or_none()
    if top is None:
        db.session.add(SyncCounter(name="changes", value=n))
        db.session.flush()
        top = n
    rows = list(pending.values())
    for offset, row in enumerate(rows):
        row["seq"] = top - n + 1 + offset
    upsert(SyncIndex.__table__, rows, ["entity", "record_id"])
    return top


def get_current(entity: str, ids: list[str]) -> dict[str, RecordVersion]:
    """The latest version row of each existing record among ``ids``."""
    if not ids:
        return {}
    # The current version is the one whose validity has not ended.
    q = select(RecordVersion).where(
        RecordVersion.entity == entity, RecordVersion.record_id.in_(ids), RecordVersion.valid_to.is_(None)
    )
    return {row.record_id: row for row in db.session.execute(q).scalars()}


def get_versions(entity: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], RecordVersion]:
    """Specific versions (record id, version) of records, e.g. the base of a merge."""
    if not keys:
        return {}
    q = select(RecordVersion).where(
        RecordVersion.entity == entity, tuple_(RecordVersion.record_id, RecordVersion.version).in_(keys)
    )
    return {(r.record_id, r.version): r for r in db.session.execute(q).scalars()}
