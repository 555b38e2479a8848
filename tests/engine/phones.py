"""A simulated field device for scenario and property tests.

A `Phone` keeps what it pulled (data and version of each record), queues its offline edits
as changes with the version they started from, pushes them as batches and pulls by cursor,
just as the contract expects a client to behave.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.records import validate_record
from sync.actors import Actor
from sync.engine import pull, push_batch
from sync.memory import MemoryStore


@dataclass
class Copy:
    """The phone's copy of one record: its data and the server version it last saw."""

    data: dict[str, Any]
    version: int | None
    deleted: bool = False


@dataclass
class Phone:
    store: MemoryStore
    actor: Actor
    device_id: str
    records: dict[tuple[str, str], Copy] = field(default_factory=dict)
    # The server's copy as last pulled: what a refused local edit falls back to.
    pulled: dict[tuple[str, str], Copy] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    cursor: int | None = None
    sent: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = field(default_factory=list)
    # Property tests pass a counter so a Hypothesis example replays identically.
    make_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))

    def create(self, entity: str, data: dict[str, Any]) -> str:
        record_id = self.make_id()
        self.records[(entity, record_id)] = Copy(dict(data), None)
        self._queue(entity, record_id, "upsert", None, data)
        return record_id

    def edit(self, entity: str, record_id: str, **fields: Any) -> None:
        copy = self.records[(entity, record_id)]
        copy.data = {**copy.data, **fields}
        self._queue(entity, record_id, "upsert", copy.version, copy.data)

    def delete(self, entity: str, record_id: str) -> None:
        copy = self.records[(entity, record_id)]
        copy.deleted = True
        self._queue(entity, record_id, "delete", copy.version, {})

    def push(self, now: datetime) -> dict[str, Any]:
        """Send the outbox as one batch. An applied change moves the copy to the version it
        produced; anything else leaves the copy's version stale until the next pull."""
        batch_id, changes = self.make_id(), self.outbox
        self.outbox = []
        response = push_batch(self.store, self.actor, self.device_id, batch_id, changes, now, validate_record)
        self.sent.append((batch_id, changes, response))
        refused = set()
        for change, result in zip(changes, response["results"], strict=True):
            key = (change["entity"], change["id"])
            if result["status"] == "rejected":
                refused.add(key)
            elif result["status"] == "applied":
                self.records[key].version = result["version"]
        for key in refused & set(self.pulled):
            # The server kept its values; show them again rather than an edit it refused.
            self.records[key] = _copy_of(self.pulled[key])
        return response

    def resend(self, index: int, now: datetime) -> dict[str, Any]:
        """Send an earlier batch again, as a phone that lost the response does."""
        batch_id, changes, _ = self.sent[index]
        return push_batch(self.store, self.actor, self.device_id, batch_id, changes, now, validate_record)

    def pull(self, limit: int = 500) -> None:
        """Pull every page since the cursor; the server's copy replaces the phone's."""
        more = True
        while more:
            page = pull(self.store, self.actor, self.cursor, limit)
            for record in page["changes"]:
                key = (record["entity"], record["id"])
                self.pulled[key] = Copy(dict(record["data"]), record["version"], record["deleted"])
                self.records[key] = _copy_of(self.pulled[key])
            self.cursor, more = page["cursor"], page["more"]

    def _queue(self, entity: str, record_id: str, op: str, base: int | None, data: dict[str, Any]) -> None:
        self.outbox.append(
            {
                "change_id": self.make_id(),
                "entity": entity,
                "id": record_id,
                "op": op,
                "base_version": base,
                "data": dict(data),
                "client_time": "2020-05-02T08:15:00+07:00",
            }
        )


def _copy_of(copy: Copy) -> Copy:
    return Copy(dict(copy.data), copy.version, copy.deleted)
