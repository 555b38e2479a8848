"""The record and push schemas: what a phone may send."""

import uuid

import pytest
from marshmallow import ValidationError

from schemas.records import validate_record
from schemas.sync import PushRequestSchema
from tests.engine.samples import household, new_id, payout, registration, support_item

HOUSEHOLD_ID = str(uuid.uuid4())


def errors_of(entity, data):
    clean, errors = validate_record(entity, data)
    assert not clean
    return errors


def test_a_household_loads_with_every_optional_field_filled_with_null():
    clean, errors = validate_record("households", household())
    assert errors == {}
    assert clean["phone"] is None and clean["notes"] is None and clean["latitude"] is None


def test_vietnamese_text_is_kept_exactly():
    name = "Hồ Thị Ngọc Ánh\u0301"  # even an odd combining mark stays as sent
    clean, _ = validate_record("households", household(head_name=name, village="Thôn Pà Lanh"))
    assert clean["head_name"] == name and clean["village"] == "Thôn Pà Lanh"


def test_unknown_fields_are_refused():
    assert errors_of("households", household(nickname="x")) == {"nickname": ["Unknown field."]}


def test_required_fields_are_required_and_optional_ones_may_be_null():
    data = household(phone=None, notes=None)
    del data["village"]
    assert set(errors_of("households", data)) == {"village"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("members", 0),
        ("members", "4"),
        ("members", 4.0),
        ("members", True),
        ("category", "rich"),
        ("ethnic_minority", "no"),
        ("latitude", 91),
        ("longitude", "108.5"),
        ("notes", "x" * 2001),
        ("head_name", "x" * 201),
        ("head_name", "   "),
    ],
)
def test_bad_household_values_are_refused(field, value):
    assert field in errors_of("households", household(**{field: value}))


def test_notes_of_exactly_two_thousand_characters_pass():
    assert validate_record("households", household(notes="ă" * 2000))[1] == {}


@pytest.mark.parametrize("signed_on", ["2020-02-30", "20200115", "2020-1-5", "15/01/2020", 20200115])
def test_a_registration_date_must_be_a_real_day(signed_on):
    assert "signed_on" in errors_of("registrations", registration(HOUSEHOLD_ID, signed_on=signed_on))


def test_a_leap_day_is_a_real_day():
    assert validate_record("registrations", registration(HOUSEHOLD_ID, signed_on="2020-02-29"))[1] == {}


@pytest.mark.parametrize(
    ("field", "value"), [("year", 1999), ("year", 2101), ("household_id", "42"), ("kind", "exit")]
)
def test_bad_registration_values_are_refused(field, value):
    assert field in errors_of("registrations", {**registration(HOUSEHOLD_ID), field: value})


def test_needs_are_known_and_distinct():
    errors = errors_of("registrations", registration(HOUSEHOLD_ID, needs=["livestock", "cows"]))
    assert errors == {
        "needs": {
            "1": [
                "Must be one of: livestock, seedlings, vocational_training, "
                "preferential_loan, job_placement, housing, other."
            ]
        }
    }
    assert "needs" in errors_of("registrations", registration(HOUSEHOLD_ID, needs=["housing", "housing"]))


def test_uuids_load_in_canonical_lower_case():
    clean, _ = validate_record("registrations", registration(HOUSEHOLD_ID.upper()))
    assert clean["household_id"] == HOUSEHOLD_ID


def test_server_managed_registration_fields_are_accepted_as_input():
    data = registration(
        HOUSEHOLD_ID,
        status="approved",
        submitted_at="2020-05-01T10:00:00+07:00",
        decided_by="minh",
        decided_at="2020-05-02T10:00:00+07:00",
        decision_note="Đồng ý",
    )
    clean, errors = validate_record("registrations", data)
    assert errors == {} and clean["status"] == "approved"


def test_a_timestamp_without_offset_is_refused():
    assert "submitted_at" in errors_of(
        "registrations", registration(HOUSEHOLD_ID, submitted_at="2020-05-01T10:00:00")
    )


def test_a_support_item_without_status_is_planned():
    data = support_item(HOUSEHOLD_ID, new_id())
    del data["status"]
    assert validate_record("support_items", data)[0]["status"] == "planned"


def test_a_delivered_item_needs_its_delivery_date():
    assert "delivered_on" in errors_of(
        "support_items", support_item(HOUSEHOLD_ID, new_id(), status="delivered")
    )


@pytest.mark.parametrize("amount", [-1, 1.5, "5000000", 10**14])
def test_money_is_a_non_negative_integer(amount):
    assert "amount_vnd" in errors_of("payouts", payout(HOUSEHOLD_ID, amount_vnd=amount))


def test_a_payout_needs_its_dates_from_disbursement_on():
    assert "disbursed_on" in errors_of("payouts", payout(HOUSEHOLD_ID, status="disbursed"))
    errors = errors_of("payouts", payout(HOUSEHOLD_ID, status="confirmed", disbursed_on="2020-04-01"))
    assert errors == {"confirmed_on": ["Required when status is confirmed."]}


def test_record_data_must_be_an_object():
    assert errors_of("households", ["x"]) == {"_schema": ["Record data must be an object."]}


def push_request(**changes_fields):
    one = {
        "change_id": new_id(),
        "entity": "households",
        "id": new_id(),
        "op": "upsert",
        "base_version": None,
        "data": household(),
        "client_time": "2020-05-02T08:15:00+07:00",
    }
    one.update(changes_fields)
    return {"device_id": "phone-1", "batch_id": new_id(), "changes": [one]}


def test_a_push_request_loads():
    loaded = PushRequestSchema().load(push_request())
    assert loaded["changes"][0]["base_version"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"entity": "people"},
        {"op": "patch"},
        {"base_version": 0},
        {"base_version": "1"},
        {"extra": 1},
        {"op": "delete", "base_version": 1},
        {"change_id": "1"},
    ],
)
def test_bad_changes_are_refused(fields):
    with pytest.raises(ValidationError):
        PushRequestSchema().load(push_request(**fields))


def test_a_batch_holds_at_most_500_changes():
    request = push_request()
    request["changes"] = request["changes"] * 501
    with pytest.raises(ValidationError, match="At most 500"):
        PushRequestSchema().load(request)
