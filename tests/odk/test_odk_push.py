"""Scenarios: ODK submissions pushed through the real engine, as the submission route will.

A collaborator in Xã Trà Sơn (Bắc Trà My) fills the forms on a phone; the changes built from
each instance go through the push envelope schema and ``push_batch`` on the in-memory store.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.records import validate_record
from schemas.sync import ChangeSchema
from server.odk.changes import (
    build_exit_registration_changes,
    build_follow_up_visit_changes,
    build_payout_receipt_changes,
    read_referenced_ids,
)
from server.odk.instances import Instance, parse_instance
from sync.actors import Actor
from sync.engine import decide_registration, push_batch
from sync.memory import MemoryStore
from sync.records import Unit
from tests.odk.samples import (
    EXIT_REGISTRATION_ANSWERS,
    FOLLOW_UP_ANSWERS,
    HOUSEHOLD_ID,
    INSTANCE_UUID,
    PAYOUT_ID,
    PAYOUT_RECEIPT_ANSWERS,
    SUPPORT_ITEM_ID,
    fill_instance,
)

UNITS = [
    Unit("49", "province", None, "Tỉnh Quảng Nam"),
    Unit("515", "district", "49", "Huyện Bắc Trà My"),
    Unit("20900", "commune", "515", "Xã Trà Sơn"),
]
COLLABORATOR = Actor(1, "y_nhung", "collaborator", "20900")
DISTRICT = Actor(2, "btm_ldtbxh", "district_officer", "515")
OFFICIAL = Actor(3, "ubnd_tra_son", "commune_official", "20900")
RECEIVED = datetime(2020, 5, 3, 1, 0, tzinfo=UTC)
EDIT_UUID = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"


def new_batch_id() -> str:
    """A fresh batch id, as the intake gives every instance (the change ids make a re-send a duplicate)."""
    return str(uuid.uuid4())


def push(store: MemoryStore, actor: Actor, changes: list[dict[str, Any]], batch_id: str) -> list[dict]:
    """Push as the route will: the envelope schema first, then the engine."""
    loaded = [ChangeSchema().load(change) for change in changes]
    response = push_batch(store, actor, "collect:Xb7Qz1", batch_id, loaded, RECEIVED, validate_record)
    return response["results"]


def statuses(results: list[dict]) -> list[tuple[str, str, int | None]]:
    return [(r["entity"], r["status"], r["version"]) for r in results]


def submit_registration(store: MemoryStore, instance: Instance, **kwargs: Any) -> list[dict]:
    changes = build_exit_registration_changes(instance, received_at=RECEIVED, **kwargs)
    return push(store, COLLABORATOR, changes, new_batch_id())


def decide(store: MemoryStore, decision: str) -> None:
    current = store.get_record("registrations", INSTANCE_UUID)
    decide_registration(store, OFFICIAL, INSTANCE_UUID, decision, "UBND xã", current.version, RECEIVED)


def edit_registration(store: MemoryStore, base_version: int, **answers: str) -> list[dict]:
    """The collaborator edits the submission on the phone (Collect sends a deprecatedID)."""
    edit = registration_instance(EDIT_UUID, deprecated_uuid=INSTANCE_UUID, **answers)
    household = store.get_record("households", HOUSEHOLD_ID)
    return submit_registration(
        store,
        edit,
        registration_id=INSTANCE_UUID,
        registration=store.get_record("registrations", INSTANCE_UUID).data,
        registration_base_version=base_version,
        household=household.data,
        household_base_version=household.version,
    )


def registration_instance(instance_uuid=INSTANCE_UUID, deprecated_uuid=None, **answers) -> Instance:
    merged = {**EXIT_REGISTRATION_ANSWERS, **answers}
    return parse_instance(fill_instance("exit_registration", merged, instance_uuid, deprecated_uuid))


def test_a_registration_form_creates_the_household_and_a_submitted_registration():
    store = MemoryStore(UNITS)
    results = submit_registration(store, registration_instance())
    assert statuses(results) == [("households", "applied", 1), ("registrations", "applied", 1)]
    registration = store.get_record("registrations", INSTANCE_UUID)
    assert registration.data["household_id"] == HOUSEHOLD_ID
    assert registration.data["status"] == "submitted"
    assert registration.data["needs"] == ["livestock", "preferential_loan"]
    assert store.get_record("households", HOUSEHOLD_ID).data["head_name"] == "Hồ Văn Đước"


def test_the_same_instance_resent_in_another_batch_is_a_duplicate_not_a_second_record():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    changes = build_exit_registration_changes(registration_instance(), received_at=RECEIVED)
    results = push(store, COLLABORATOR, changes, "7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert statuses(results) == [("households", "duplicate", 1), ("registrations", "duplicate", 1)]
    assert store.get_record("registrations", INSTANCE_UUID).version == 1


def test_an_edit_of_the_submission_updates_the_same_registration():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    results = edit_registration(store, base_version=1, members="6", needs="livestock housing")
    assert statuses(results) == [("households", "applied", 2), ("registrations", "applied", 2)]
    registration = store.get_record("registrations", INSTANCE_UUID)
    assert (registration.data["members"], registration.data["needs"]) == (6, ["livestock", "housing"])
    assert store.get_record("registrations", EDIT_UUID) is None


def test_an_edit_after_the_commune_returned_the_form_merges_and_goes_back_to_submitted():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    decide(store, "return")  # version 2, status returned
    # The phone's base is version 1, the one its first instance produced.
    results = edit_registration(store, base_version=1, notes="Đã bổ sung ảnh giấy đăng ký.")
    assert [r["status"] for r in results] == ["applied", "merged"]
    registration = store.get_record("registrations", INSTANCE_UUID)
    assert registration.version == 3
    assert (registration.data["status"], registration.data["notes"]) == (
        "submitted",
        "Đã bổ sung ảnh giấy đăng ký.",
    )


def test_an_edit_of_an_approved_registration_is_refused_and_changes_nothing():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    decide(store, "approve")
    results = edit_registration(store, base_version=1, members="7")
    registration_result = results[1]
    assert registration_result["status"] == "rejected"
    assert registration_result["errors"]["code"] == "locked"
    assert store.get_record("registrations", INSTANCE_UUID).data["members"] == 5


def test_a_follow_up_visit_marks_the_planned_support_item_delivered():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    decide(store, "approve")
    planned = {
        "household_id": HOUSEHOLD_ID,
        "registration_id": INSTANCE_UUID,
        "kind": "livestock",
        "description": "2 con bê giống",
        "amount_vnd": 16_000_000,
        "funding_source": "province",
        "due_date": "2020-09-30",
        "status": "planned",
    }
    plan = {"change_id": "11111111-1111-4111-8111-111111111111", "entity": "support_items",
            "id": SUPPORT_ITEM_ID, "op": "upsert", "base_version": None, "data": planned}  # fmt: skip
    assert statuses(push(store, DISTRICT, [plan], "22222222-2222-4222-8222-222222222222")) == [
        ("support_items", "applied", 1)
    ]

    visit = parse_instance(fill_instance("follow_up_visit", FOLLOW_UP_ANSWERS, EDIT_UUID))
    item = store.get_record("support_items", read_referenced_ids(visit)["support_items"])
    changes = build_follow_up_visit_changes(visit, support_item=item.data, base_version=item.version)
    results = push(store, COLLABORATOR, changes, new_batch_id())
    assert statuses(results) == [("support_items", "applied", 2)]
    delivered = store.get_record("support_items", SUPPORT_ITEM_ID).data
    assert (delivered["status"], delivered["delivered_on"]) == ("delivered", "2020-09-12")


def test_a_payout_receipt_confirms_a_disbursed_payout_and_the_amount_stays():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    decide(store, "approve")
    disbursed = {
        "household_id": HOUSEHOLD_ID,
        "registration_id": INSTANCE_UUID,
        "kind": "reward",
        "recognized_year": 2020,
        "amount_vnd": 5_000_000,
        "due_date": "2020-09-15",
        "status": "disbursed",
        "disbursed_on": "2020-09-28",
    }
    record = {"change_id": "33333333-3333-4333-8333-333333333333", "entity": "payouts", "id": PAYOUT_ID,
              "op": "upsert", "base_version": None, "data": disbursed}  # fmt: skip
    assert statuses(push(store, DISTRICT, [record], "44444444-4444-4444-8444-444444444444")) == [
        ("payouts", "applied", 1)
    ]

    receipt = parse_instance(fill_instance("payout_receipt", PAYOUT_RECEIPT_ANSWERS, EDIT_UUID))
    payout = store.get_record("payouts", PAYOUT_ID)
    changes = build_payout_receipt_changes(receipt, payout=payout.data, base_version=payout.version)
    results = push(store, COLLABORATOR, changes, new_batch_id())
    assert statuses(results) == [("payouts", "applied", 2)]
    confirmed = store.get_record("payouts", PAYOUT_ID).data
    assert (confirmed["status"], confirmed["confirmed_on"], confirmed["amount_vnd"]) == (
        "confirmed",
        "2020-09-30",
        5_000_000,
    )


def test_a_receipt_for_a_payout_not_yet_disbursed_is_rejected_by_the_engine():
    store = MemoryStore(UNITS)
    submit_registration(store, registration_instance())
    pending = {"household_id": HOUSEHOLD_ID, "kind": "reward", "recognized_year": 2020,
               "amount_vnd": 5_000_000, "due_date": "2020-09-15", "status": "pending"}  # fmt: skip
    record = {"change_id": "55555555-5555-4555-8555-555555555555", "entity": "payouts", "id": PAYOUT_ID,
              "op": "upsert", "base_version": None, "data": pending}  # fmt: skip
    push(store, DISTRICT, [record], "66666666-6666-4666-8666-666666666666")

    receipt = parse_instance(fill_instance("payout_receipt", PAYOUT_RECEIPT_ANSWERS, EDIT_UUID))
    payout = store.get_record("payouts", PAYOUT_ID)
    changes = build_payout_receipt_changes(receipt, payout=payout.data, base_version=payout.version)
    (result,) = push(store, COLLABORATOR, changes, new_batch_id())
    assert result["status"] == "rejected"
    assert store.get_record("payouts", PAYOUT_ID).data["status"] == "pending"
