"""A web page is just another device: its writes are pushes through the engine.

A district officer's form becomes a batch of changes, applied by ``sync.engine.push_batch`` on
a ``SqlStore`` inside ``run_engine`` - exactly the path of ``POST /api/v1/sync/push`` - so a
payout scheduled at a desk is versioned, merged, scoped, checked against the same rules and
audited like one captured on a phone, and every phone pulls it.

Each rendered form carries a fresh batch id. Posting the same form twice (a double click, a
reload after a lost response) sends the same batch again, which the engine answers from the
stored response without writing anything: no payout is scheduled twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.records import validate_record
from server.clock import utcnow
from server.transactions import run_engine
from server.web.sessions import page_actor
from sync.engine import push_batch


def new_batch_id() -> str:
    """A batch id for a form about to be rendered."""
    return str(uuid.uuid4())


def read_batch_id(value: str | None) -> str:
    """The form's batch id, canonical; a missing or malformed one gets a fresh id."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return new_batch_id()


def change(
    batch_id: str, index: int, entity: str, record_id: str, data: Mapping[str, Any], base: int | None
) -> dict[str, Any]:
    """One upsert of the batch; its change_id derives from the batch, so a resend is a duplicate."""
    return {
        "change_id": str(uuid.uuid5(uuid.UUID(batch_id), str(index))),
        "entity": entity,
        "id": record_id,
        "op": "upsert",
        "base_version": base,
        "data": dict(data),
        "client_time": None,
    }


def push_from_page(batch_id: str, changes: list[dict[str, Any]], now: datetime | None = None) -> list[dict]:
    """Push ``changes`` as the signed-in user's web device; the per-change results."""
    actor = page_actor()
    device_id = f"web-{actor.username}"
    moment = now or utcnow()
    response = run_engine(
        lambda store: push_batch(store, actor, device_id, batch_id, changes, moment, validate_record)
    )
    return response["results"]
