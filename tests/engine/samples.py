"""Literal units, users and records for the engine tests, and a one-call push."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.records import validate_record
from sync.actors import Actor
from sync.engine import push_batch
from sync.memory import MemoryStore
from sync.records import Unit

UNITS = [
    Unit("49", "province", None, "Tỉnh Quảng Nam"),
    Unit("502", "district", "49", "Thành phố Tam Kỳ"),
    Unit("20335", "commune", "502", "Phường Tân Thạnh"),
    Unit("20338", "commune", "502", "Phường Phước Hòa"),
    Unit("504", "district", "49", "Huyện Tây Giang"),
    Unit("20437", "commune", "504", "Xã Ch'ơm"),
]

NOW = datetime(2020, 5, 2, 10, 0, tzinfo=UTC)

COLLABORATOR = Actor(1, "lan", "collaborator", "20335")
NEIGHBOUR = Actor(2, "hoa", "collaborator", "20338")
MOUNTAIN_COLLABORATOR = Actor(3, "a_lang", "collaborator", "20437")
OFFICIAL = Actor(4, "minh", "commune_official", "20335")
OTHER_OFFICIAL = Actor(5, "tuan", "commune_official", "20338")
DISTRICT = Actor(6, "phong_ldtbxh", "district_officer", "502")
MOUNTAIN_DISTRICT = Actor(7, "tay_giang", "district_officer", "504")
SUPERVISOR = Actor(8, "so_ldtbxh", "supervisor", "49")
ADMIN = Actor(9, "root", "admin", "49")


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def new_id() -> str:
    return str(uuid.uuid4())


def new_store() -> MemoryStore:
    return MemoryStore(UNITS)


def household(**fields: Any) -> dict[str, Any]:
    data = {
        "code": "HN-20335-001",
        "commune_code": "20335",
        "village": "Khối phố 3",
        "head_name": "Nguyễn Thị Lài",
        "members": 4,
        "category": "poor",
        "ethnic_minority": False,
    }
    data.update(fields)
    return data


def registration(household_id: str, **fields: Any) -> dict[str, Any]:
    data = {
        "household_id": household_id,
        "year": 2020,
        "kind": "exit_poverty",
        "members": 4,
        "needs": ["livestock", "vocational_training"],
        "commitment": True,
        "signed_on": "2020-01-15",
    }
    data.update(fields)
    return data


def support_item(household_id: str, registration_id: str, **fields: Any) -> dict[str, Any]:
    data = {
        "household_id": household_id,
        "registration_id": registration_id,
        "kind": "livestock",
        "description": "Hai con bò giống",
        "amount_vnd": 30_000_000,
        "funding_source": "province",
        "due_date": "2020-06-30",
        "status": "planned",
    }
    data.update(fields)
    return data


def payout(household_id: str, **fields: Any) -> dict[str, Any]:
    data = {
        "household_id": household_id,
        "kind": "reward",
        "recognized_year": 2019,
        "amount_vnd": 5_000_000,
        "due_date": "2020-03-31",
        "status": "pending",
    }
    data.update(fields)
    return data


def change(
    entity: str,
    data: dict[str, Any] | None = None,
    *,
    record_id: str | None = None,
    base: int | None = None,
    op: str = "upsert",
    change_id: str | None = None,
) -> dict[str, Any]:
    return {
        "change_id": change_id or new_id(),
        "entity": entity,
        "id": record_id or new_id(),
        "op": op,
        "base_version": base,
        "data": data if data is not None else {},
        "client_time": "2020-05-02T08:15:00+07:00",
    }


def delete(entity: str, record_id: str, base: int | None) -> dict[str, Any]:
    return change(entity, {}, record_id=record_id, base=base, op="delete")


def push(
    store: MemoryStore,
    actor: Actor,
    *changes: dict[str, Any],
    now: datetime = NOW,
    device: str = "phone-1",
    batch_id: str | None = None,
) -> list[dict[str, Any]]:
    """Push `changes` as one batch; return the results."""
    response = push_batch(store, actor, device, batch_id or new_id(), list(changes), now, validate_record)
    return response["results"]


def push_one(store: MemoryStore, actor: Actor, one: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return push(store, actor, one, **kwargs)[0]


def seed_household(store: MemoryStore, actor: Actor = COLLABORATOR, **fields: Any) -> str:
    """A household already on the server (version 1); returns its id."""
    first = change("households", household(**fields))
    assert push_one(store, actor, first)["status"] == "applied"
    return first["id"]


def seed_registration(
    store: MemoryStore, household_id: str, actor: Actor = COLLABORATOR, **fields: Any
) -> str:
    first = change("registrations", registration(household_id, **fields))
    assert push_one(store, actor, first)["status"] == "applied"
    return first["id"]


def data_of(store: MemoryStore, entity: str, record_id: str) -> dict[str, Any]:
    record = store.get_record(entity, record_id)
    assert record is not None
    return dict(record.data)
