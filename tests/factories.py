"""Valid record data for tests, and a way to put records straight into the store.

Tests of the engine and of the HTTP API push through ``/api/v1/sync/push``; tests of reads
(reports, delays) may seed many records directly with ``put`` to stay fast.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from server.extensions import db
from server.models import Unit
from server.store import records

NOW = datetime(2020, 6, 1, 2, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def household(commune_code: str = "20920", **fields) -> dict:
    data = {
        "code": f"HH-{uuid.uuid4().hex[:6]}",
        "commune_code": commune_code,
        "village": "Thôn 2",
        "head_name": "Hồ Văn Thương",
        "members": 4,
        "category": "poor",
        "ethnic_minority": True,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "notes": None,
    }
    data.update(fields)
    return data


def registration(household_id: str, **fields) -> dict:
    data = {
        "household_id": household_id,
        "year": 2020,
        "kind": "exit_poverty",
        "members": 4,
        "needs": ["livestock", "preferential_loan"],
        "commitment": True,
        "signed_on": "2020-03-15",
        "notes": None,
        "status": "submitted",
        "submitted_at": NOW.isoformat(),
        "decided_by": None,
        "decided_at": None,
        "decision_note": None,
    }
    data.update(fields)
    return data


def support_item(household_id: str, registration_id: str, **fields) -> dict:
    data = {
        "household_id": household_id,
        "registration_id": registration_id,
        "kind": "livestock",
        "description": "2 con bò giống",
        "amount_vnd": 30_000_000,
        "funding_source": "province",
        "due_date": "2020-07-01",
        "status": "planned",
        "delivered_on": None,
    }
    data.update(fields)
    return data


def payout(household_id: str, registration_id: str | None = None, **fields) -> dict:
    data = {
        "household_id": household_id,
        "registration_id": registration_id,
        "kind": "reward",
        "recognized_year": 2020,
        "amount_vnd": 5_000_000,
        "due_date": "2020-09-30",
        "status": "pending",
        "disbursed_on": None,
        "confirmed_on": None,
    }
    data.update(fields)
    return data


def put(
    entity: str,
    data: dict,
    record_id: str | None = None,
    version: int = 1,
    at: datetime = NOW,
    deleted: bool = False,
    commune_code: str | None = None,
    actor: str = "test",
) -> str:
    """Store one version of a record directly (inside an app context); returns its id."""
    record_id = record_id or new_id()
    commune = commune_code or data.get("commune_code") or "20920"
    district = db.session.get(Unit, commune).parent_code
    records.save_versions(
        [records.VersionWrite(entity, record_id, version, data, deleted, commune, district, at, actor=actor)]
    )
    records.assign_sequences()
    db.session.commit()
    return record_id


def put_many(
    entity: str, items: list[dict], communes: list[str] | None = None, at: datetime = NOW
) -> list[str]:
    """Store version 1 of many records at once (inside an app context); returns their ids.

    ``communes`` gives each record's commune (households carry theirs in ``commune_code``).
    Thousands of records in a few transactions: for reads that need a province's worth.
    """
    districts = dict(db.session.execute(select(Unit.code, Unit.parent_code)).all())
    ids = [new_id() for _ in items]
    writes = []
    for i, (record_id, data) in enumerate(zip(ids, items, strict=True)):
        commune = communes[i] if communes else data["commune_code"]
        district = districts[commune]
        writes.append(
            records.VersionWrite(entity, record_id, 1, data, False, commune, district, at, actor="test")
        )
    for start in range(0, len(writes), 500):
        records.save_versions(writes[start : start + 500])
        records.assign_sequences()
        db.session.commit()
    return ids
