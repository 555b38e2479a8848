"""Writing a new version of a record, always together with its audit entry.

Every path that changes a record (push, conflict resolution, decision) goes through
`write_version`, so no version can exist without the audit line that explains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.actors import Actor
from sync.merge import changed_fields
from sync.records import AuditEntry, Record
from sync.store import Store


@dataclass(frozen=True)
class WriteContext:
    """Who writes, when, and through which device, batch and change (None outside a push)."""

    actor: Actor
    now: datetime
    device_id: str | None = None
    batch_id: str | None = None
    change_id: str | None = None
    client_time: str | None = None
    made_after: datetime | None = None
    made_before: datetime | None = None
    clock_suspect: bool = False


def write_version(
    store: Store,
    context: WriteContext,
    *,
    entity: str,
    record_id: str,
    current: Record | None,
    data: Mapping[str, Any],
    deleted: bool,
    place: tuple[str, str],
    action: str,
) -> Record:
    """Save the next version of the record (1 when `current` is None) and audit it.

    `place` is the record's (commune_code, district_code). Returns the saved version.
    """
    if context.now.utcoffset() is None:
        raise ValueError("the engine needs an aware `now`: version times are compared across zones")
    record = Record(
        entity=entity,
        id=record_id,
        version=1 if current is None else current.version + 1,
        deleted=deleted,
        data=dict(data),
        commune_code=place[0],
        district_code=place[1],
        written_at=context.now,
    )
    store.save_version(record)
    before, after = describe_change(current, record)
    store.append_audit(
        AuditEntry(
            entity=entity,
            record_id=record_id,
            version=record.version,
            action=action,
            user_id=context.actor.user_id,
            username=context.actor.username,
            at=context.now,
            before=before,
            after=after,
            commune_code=place[0],
            district_code=place[1],
            device_id=context.device_id,
            batch_id=context.batch_id,
            change_id=context.change_id,
            client_time=context.client_time,
            made_after=context.made_after,
            made_before=context.made_before or context.now,
            clock_suspect=context.clock_suspect,
        )
    )
    return record


def describe_change(current: Record | None, new: Record) -> tuple[dict[str, Any], dict[str, Any]]:
    """The before/after values of the fields that changed (all set fields for a creation);
    deletion and restoration show as the pseudo-field `deleted`."""
    if current is None:
        after = {name: value for name, value in new.data.items() if value is not None}
        return dict.fromkeys(after), after
    names = sorted(changed_fields(current.data, new.data))
    before = {name: current.data.get(name) for name in names}
    after = {name: new.data.get(name) for name in names}
    if current.deleted != new.deleted:
        before["deleted"], after["deleted"] = current.deleted, new.deleted
    return before, after
