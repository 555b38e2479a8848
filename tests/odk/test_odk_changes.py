"""Submitted instances become ordinary push changes, with ids that make resends duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.odk.changes import (
    build_exit_registration_changes,
    build_follow_up_visit_changes,
    build_payout_receipt_changes,
    derive_change_id,
    read_referenced_ids,
)
from server.odk.instances import InvalidInstanceError, parse_instance
from tests.odk.samples import (
    EXIT_REGISTRATION_ANSWERS,
    FOLLOW_UP_ANSWERS,
    HOUSEHOLD_ID,
    INSTANCE_UUID,
    PAYOUT_DATA,
    PAYOUT_ID,
    PAYOUT_RECEIPT_ANSWERS,
    SUPPORT_ITEM_DATA,
    SUPPORT_ITEM_ID,
    fill_instance,
)

EDIT_UUID = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"
RECEIVED_AT = datetime(2020, 5, 3, 1, 0, tzinfo=UTC)


def registration_instance(instance_uuid=INSTANCE_UUID, deprecated_uuid=None, **answers):
    merged = {**EXIT_REGISTRATION_ANSWERS, **answers}
    return parse_instance(fill_instance("exit_registration", merged, instance_uuid, deprecated_uuid))


def test_a_new_exit_registration_creates_the_household_and_the_registration():
    household, registration = build_exit_registration_changes(registration_instance())
    assert household == {
        "change_id": derive_change_id(f"uuid:{INSTANCE_UUID}", "households"),
        "entity": "households",
        "id": HOUSEHOLD_ID,
        "op": "upsert",
        "base_version": None,
        "data": {
            "code": "BTM-TS-0731",
            "commune_code": "20900",
            "village": "Thôn 2",
            "head_name": "Hồ Văn Đước",
            "members": 5,
            "category": "poor",
            "ethnic_minority": True,
        },
        "client_time": "2020-05-02T08:15:00+07:00",
    }
    assert registration == {
        "change_id": derive_change_id(f"uuid:{INSTANCE_UUID}", "registrations"),
        "entity": "registrations",
        "id": INSTANCE_UUID,
        "op": "upsert",
        "base_version": None,
        "data": {
            "household_id": HOUSEHOLD_ID,
            "year": 2020,
            "kind": "exit_poverty",
            "members": 5,
            "needs": ["livestock", "preferential_loan"],
            "commitment": True,
            "signed_on": "2020-05-02",
            "notes": "Hộ có 2 con bò giống, cần vay vốn mở rộng chuồng trại.",
        },
        "client_time": "2020-05-02T08:15:00+07:00",
    }


def test_the_same_instance_sent_again_makes_the_same_changes():
    first = build_exit_registration_changes(registration_instance())
    again = build_exit_registration_changes(registration_instance())
    assert first == again
    other = build_exit_registration_changes(registration_instance(EDIT_UUID))
    assert {c["change_id"] for c in other}.isdisjoint({c["change_id"] for c in first})


def test_optional_answers_are_typed_and_an_empty_needs_list_is_empty():
    instance = registration_instance(
        phone="0905 123 456",
        location="15.3459 108.2312 410.5 4.8",
        needs="",
        notes="",
        ethnic_minority="no",
        commitment="no",
    )
    household, registration = build_exit_registration_changes(instance)
    assert household["data"]["phone"] == "0905 123 456"
    assert (household["data"]["latitude"], household["data"]["longitude"]) == (15.3459, 108.2312)
    assert household["data"]["ethnic_minority"] is False
    assert registration["data"]["needs"] == []
    assert registration["data"]["notes"] is None
    assert registration["data"]["commitment"] is False


def test_an_existing_household_keeps_the_fields_the_form_does_not_ask():
    current = {
        "code": "BTM-TS-0731",
        "commune_code": "20900",
        "village": "Thôn 1",
        "head_name": "Hồ Văn Đước",
        "members": 6,
        "category": "poor",
        "ethnic_minority": True,
        "phone": "0905000111",
        "notes": "Ghi chú của cán bộ huyện",
        "latitude": 15.1,
        "longitude": 108.1,
    }
    household, _ = build_exit_registration_changes(
        registration_instance(), household=current, household_base_version=4
    )
    assert household["base_version"] == 4
    assert household["data"] == {
        **current,
        "village": "Thôn 2",  # the form's answers win
        "members": 5,
    }


def test_an_edit_keeps_the_root_registration_id_with_new_change_ids():
    original = build_exit_registration_changes(registration_instance())
    current = {
        **original[1]["data"],
        "status": "returned",
        "decided_by": "minh",
        "decision_note": "Thiếu ảnh",
    }
    edit = registration_instance(EDIT_UUID, deprecated_uuid=INSTANCE_UUID, members="6")
    household, registration = build_exit_registration_changes(
        edit,
        registration_id=INSTANCE_UUID,
        registration=current,
        registration_base_version=2,
        household={**original[0]["data"]},
        household_base_version=1,
    )
    assert registration["id"] == INSTANCE_UUID
    assert registration["base_version"] == 2
    # The form's answers over the current record: server-managed fields go back unchanged.
    assert registration["data"] == {**current, "members": 6}
    assert household["data"]["members"] == 6
    assert registration["change_id"] == derive_change_id(f"uuid:{EDIT_UUID}", "registrations")
    assert registration["change_id"] != original[1]["change_id"]


def test_an_edit_without_the_root_registration_is_a_caller_error():
    edit = registration_instance(EDIT_UUID, deprecated_uuid=INSTANCE_UUID)
    with pytest.raises(ValueError, match="root registration"):
        build_exit_registration_changes(edit)
    with pytest.raises(ValueError, match="root registration"):
        build_exit_registration_changes(edit, registration_id=INSTANCE_UUID)


def test_every_missing_or_unreadable_answer_is_listed_at_once():
    instance = registration_instance(
        household_id="",
        new_household_id="",
        head_name="",
        members="năm",
        year="2020.5",
        ethnic_minority="có",
        signed_on="02/05/2020",
        location="north",
    )
    with pytest.raises(InvalidInstanceError) as raised:
        build_exit_registration_changes(instance)
    assert raised.value.details == {
        "household_id": ["is required"],
        "head_name": ["is required"],
        "members": ["must be a whole number"],
        "year": ["must be a whole number"],
        "ethnic_minority": ["must be yes or no"],
        "signed_on": ["must be a date (YYYY-MM-DD)"],
        "location": ["must be a GPS point: latitude longitude [altitude accuracy]"],
    }
    assert "head_name" in raised.value.message


def test_a_household_id_that_is_not_a_uuid_is_refused():
    with pytest.raises(InvalidInstanceError) as raised:
        build_exit_registration_changes(registration_instance(household_id="hộ-7", new_household_id="hộ-7"))
    assert raised.value.details == {"household_id": ["must be a UUID"]}


def test_client_time_falls_back_to_start_then_to_the_time_received():
    no_end = registration_instance(end="")
    assert build_exit_registration_changes(no_end)[0]["client_time"] == "2020-05-02T08:01:12.345000+07:00"
    no_stamps = registration_instance(end="", start="")
    changes = build_exit_registration_changes(no_stamps, received_at=RECEIVED_AT)
    assert changes[0]["client_time"] == "2020-05-03T01:00:00+00:00"
    assert build_exit_registration_changes(no_stamps)[0]["client_time"] is None


def test_a_mapping_refuses_an_instance_of_another_form():
    with pytest.raises(ValueError, match="expected a follow_up_visit instance"):
        build_follow_up_visit_changes(registration_instance(), support_item={}, base_version=1)


def test_a_follow_up_visit_marks_the_support_item_delivered():
    instance = parse_instance(fill_instance("follow_up_visit", FOLLOW_UP_ANSWERS))
    assert read_referenced_ids(instance) == {"households": HOUSEHOLD_ID, "support_items": SUPPORT_ITEM_ID}
    (change,) = build_follow_up_visit_changes(instance, support_item=SUPPORT_ITEM_DATA, base_version=3)
    assert change == {
        "change_id": derive_change_id(f"uuid:{INSTANCE_UUID}", "support_items"),
        "entity": "support_items",
        "id": SUPPORT_ITEM_ID,
        "op": "upsert",
        "base_version": 3,
        "data": {**SUPPORT_ITEM_DATA, "status": "delivered", "delivered_on": "2020-09-12"},
        "client_time": "2020-09-14T09:20:41.120000+07:00",
    }


def test_a_follow_up_for_another_households_item_is_refused():
    instance = parse_instance(fill_instance("follow_up_visit", FOLLOW_UP_ANSWERS))
    other = {**SUPPORT_ITEM_DATA, "household_id": "11111111-2222-4333-8444-555555555555"}
    with pytest.raises(InvalidInstanceError) as raised:
        build_follow_up_visit_changes(instance, support_item=other, base_version=3)
    assert raised.value.details == {"household_id": ["is not the household of this support item"]}


def test_a_follow_up_without_a_delivery_date_is_refused():
    instance = parse_instance(fill_instance("follow_up_visit", {**FOLLOW_UP_ANSWERS, "delivered_on": ""}))
    with pytest.raises(InvalidInstanceError) as raised:
        build_follow_up_visit_changes(instance, support_item=SUPPORT_ITEM_DATA, base_version=3)
    assert raised.value.details == {"delivered_on": ["is required"]}


PAYOUT = {**PAYOUT_DATA, "household_id": HOUSEHOLD_ID.upper()}  # ids compare as UUIDs, not as strings


def test_a_payout_receipt_confirms_the_payout():
    instance = parse_instance(fill_instance("payout_receipt", PAYOUT_RECEIPT_ANSWERS))
    assert read_referenced_ids(instance) == {"households": HOUSEHOLD_ID, "payouts": PAYOUT_ID}
    (change,) = build_payout_receipt_changes(instance, payout=PAYOUT, base_version=5)
    assert change["entity"] == "payouts"
    assert change["id"] == PAYOUT_ID
    assert change["base_version"] == 5
    assert change["change_id"] == derive_change_id(f"uuid:{INSTANCE_UUID}", "payouts")
    # The whole record goes back unchanged but for the confirmation: the amount is untouched.
    assert change["data"] == {**PAYOUT, "status": "confirmed", "confirmed_on": "2020-09-30"}


def test_referenced_ids_must_be_present_and_well_formed():
    answers = {**PAYOUT_RECEIPT_ANSWERS, "payout_id": "", "household_id": "12"}
    instance = parse_instance(fill_instance("payout_receipt", answers))
    with pytest.raises(InvalidInstanceError) as raised:
        read_referenced_ids(instance)
    assert raised.value.details == {"payout_id": ["is required"], "household_id": ["must be a UUID"]}


def test_the_exit_registration_references_only_its_household():
    assert read_referenced_ids(registration_instance()) == {"households": HOUSEHOLD_ID}
