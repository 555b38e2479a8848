"""SQL for reading the append-only audit trail. Nothing here (or anywhere) changes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry
from server.scope import Scope


@dataclass(frozen=True)
class AuditFilter:
    scope: Scope
    limit: int
    entity: str | None = None
    record_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    after: int | None = None  # keyset: entries with a larger id


def list_entries(f: AuditFilter) -> list[AuditEntry]:
    """Entries in the order they were written (id order), inside the scope, filtered."""
    query = select(AuditEntry).where(f.scope.where(AuditEntry)).order_by(AuditEntry.id).limit(f.limit)
    if f.entity is not None:
        query = query.where(AuditEntry.entity == f.entity)
    if f.record_id is not None:
        query = query.where(AuditEntry.record_id == f.record_id)
    if f.actor is not None:
        query = query.where(AuditEntry.actor == f.actor)
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.after is not None:
        query = query.where(AuditEntry.id > f.after)
    return list(db.session.execute(query).scalars())
