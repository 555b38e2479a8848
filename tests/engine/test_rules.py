"""Who may set what: the rules on their own, with literal records."""

import pytest

from sync.errors import ForbiddenError, InvalidTransitionError, LockedRecordError, ReadOnlyFieldError
from sync.rules import check_delete, check_immutable, check_write, settle_server_fields
from tests.engine.samples import NOW

ITEM = {"kind": "livestock", "amount_vnd": 30_000_000, "status": "planned", "delivered_on": None}
PAYOUT = {"amount_vnd": 5_000_000, "status": "disbursed", "disbursed_on": "2020-04-01", "confirmed_on": None}
HOUSEHOLD = {"village": "Thôn 1", "members": 4}


@pytest.mark.parametrize("role", ["collaborator", "commune_official", "admin"])
def test_field_staff_and_admins_write_households(role):
    check_write(role, "households", None, HOUSEHOLD)
    check_write(role, "households", HOUSEHOLD, {**HOUSEHOLD, "members": 5})


@pytest.mark.parametrize("role", ["district_officer", "supervisor"])
@pytest.mark.parametrize("entity", ["households", "registrations"])
def test_district_officers_and_supervisors_do_not_write_households_or_registrations(role, entity):
    with pytest.raises(ForbiddenError):
        check_write(role, entity, None, HOUSEHOLD)


def test_a_write_that_changes_nothing_is_never_refused():
    check_write("supervisor", "payouts", PAYOUT, dict(PAYOUT))


def test_a_collaborator_records_a_planned_item_delivered():
    check_write(
        "collaborator", "support_items", ITEM, {**ITEM, "status": "delivered", "delivered_on": "2020-05-01"}
    )


def test_a_collaborator_changing_anything_else_on_an_item_is_forbidden():
    with pytest.raises(ForbiddenError) as refused:
        check_write(
            "collaborator",
            "support_items",
            ITEM,
            {**ITEM, "status": "delivered", "delivered_on": "2020-05-01", "amount_vnd": 1},
        )
    assert "amount_vnd" in refused.value.details


def test_a_collaborator_cannot_cancel_an_item():
    # No state of the item would let field staff cancel it: the role forbids it.
    with pytest.raises(ForbiddenError):
        check_write("commune_official", "support_items", ITEM, {**ITEM, "status": "cancelled"})


def test_a_collaborator_cannot_create_or_delete_support_items_or_payouts():
    with pytest.raises(ForbiddenError):
        check_write("collaborator", "support_items", None, ITEM)
    with pytest.raises(ForbiddenError):
        check_delete("collaborator", "payouts", PAYOUT)


def test_a_collaborator_confirms_a_disbursed_payout():
    check_write(
        "collaborator", "payouts", PAYOUT, {**PAYOUT, "status": "confirmed", "confirmed_on": "2020-04-03"}
    )


def test_a_collaborator_cannot_confirm_a_payout_not_yet_disbursed():
    approved = {**PAYOUT, "status": "approved", "disbursed_on": None}
    with pytest.raises(InvalidTransitionError):
        check_write(
            "collaborator",
            "payouts",
            approved,
            {**approved, "status": "confirmed", "confirmed_on": "2020-04-03"},
        )


def test_a_collaborator_cannot_change_a_payout_amount():
    with pytest.raises(ForbiddenError) as refused:
        check_write("collaborator", "payouts", PAYOUT, {**PAYOUT, "amount_vnd": 9_000_000})
    assert set(refused.value.details) == {"amount_vnd"}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("pending", "approved"),
        ("approved", "disbursed"),
        ("disbursed", "confirmed"),
        ("pending", "cancelled"),
        ("approved", "cancelled"),
    ],
)
def test_a_district_officer_moves_payouts_along_their_lifecycle(source, target):
    check_write("district_officer", "payouts", {**PAYOUT, "status": source}, {**PAYOUT, "status": target})


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("disbursed", "cancelled"),
        ("confirmed", "cancelled"),
        ("approved", "pending"),
        ("pending", "disbursed"),
        ("cancelled", "pending"),
    ],
)
def test_a_district_officer_cannot_move_payouts_backwards_or_cancel_paid_ones(source, target):
    with pytest.raises(InvalidTransitionError):
        check_write("district_officer", "payouts", {**PAYOUT, "status": source}, {**PAYOUT, "status": target})


def test_a_district_officer_creates_a_payout_already_disbursed():
    check_write("district_officer", "payouts", None, PAYOUT)


def test_a_district_officer_edits_a_payout_amount_without_moving_it():
    check_write("district_officer", "payouts", PAYOUT, {**PAYOUT, "amount_vnd": 6_000_000})


@pytest.mark.parametrize("target", ["delivered", "cancelled"])
def test_a_district_officer_moves_planned_items(target):
    check_write(
        "district_officer", "support_items", ITEM, {**ITEM, "status": target, "delivered_on": "2020-05-01"}
    )


def test_a_delivered_item_cannot_be_cancelled():
    delivered = {**ITEM, "status": "delivered", "delivered_on": "2020-05-01"}
    with pytest.raises(InvalidTransitionError):
        check_write("district_officer", "support_items", delivered, {**delivered, "status": "cancelled"})


def test_an_admin_may_move_any_status():
    check_write("admin", "payouts", {**PAYOUT, "status": "confirmed"}, {**PAYOUT, "status": "pending"})


def test_a_supervisor_writes_nothing():
    with pytest.raises(ForbiddenError):
        check_write(
            "supervisor", "payouts", PAYOUT, {**PAYOUT, "status": "confirmed", "confirmed_on": "2020-04-03"}
        )
    with pytest.raises(ForbiddenError):
        check_delete("supervisor", "households", HOUSEHOLD)


@pytest.mark.parametrize("role", ["collaborator", "admin"])
def test_nobody_deletes_an_approved_registration(role):
    with pytest.raises(LockedRecordError):
        check_delete(role, "registrations", {"status": "approved"})


def test_a_household_cannot_move_to_another_commune():
    with pytest.raises(ReadOnlyFieldError):
        check_immutable("households", {"commune_code": "20335"}, {"commune_code": "20338"})


SUBMITTED = {
    "status": "submitted",
    "submitted_at": "2020-05-01T03:00:00+00:00",
    "decided_by": None,
    "decided_at": None,
    "decision_note": None,
}
APPROVED = {
    **SUBMITTED,
    "status": "approved",
    "decided_by": "minh",
    "decided_at": "2020-05-02T03:00:00+00:00",
}


def test_server_fields_equal_to_the_current_values_are_not_a_change():
    assert settle_server_fields("registrations", dict(APPROVED), SUBMITTED, APPROVED, NOW) == APPROVED


def test_server_fields_equal_to_the_base_values_are_a_stale_copy():
    # The phone still holds the form as it sent it; the commune decided meanwhile.
    assert settle_server_fields("registrations", dict(SUBMITTED), SUBMITTED, APPROVED, NOW) == APPROVED


def test_a_device_setting_a_decision_is_refused():
    with pytest.raises(ReadOnlyFieldError) as refused:
        settle_server_fields("registrations", {**SUBMITTED, "status": "approved"}, SUBMITTED, SUBMITTED, NOW)
    assert refused.value.details == {"status": ["Read-only: set by the server."]}


def test_a_new_registration_is_submitted_now_whatever_status_the_phone_assumed():
    settled = settle_server_fields("registrations", {"status": "submitted"}, None, None, NOW)
    assert settled["status"] == "submitted"
    assert settled["submitted_at"] == NOW.isoformat()


def test_a_new_registration_claiming_approval_is_refused():
    with pytest.raises(ReadOnlyFieldError):
        settle_server_fields("registrations", {"status": "approved"}, None, None, NOW)


def test_server_fields_left_out_are_not_a_change():
    # An ODK form, or a phone that created the form and never pulled, holds no decision.
    assert settle_server_fields("registrations", {"members": 5}, SUBMITTED, APPROVED, NOW) == {
        "members": 5,
        **APPROVED,
    }


def test_a_server_field_value_the_record_once_held_is_a_stale_copy():
    returned = {**SUBMITTED, "status": "returned", "decided_by": "minh"}
    resubmitted = {**SUBMITTED, "submitted_at": "2020-05-09T03:00:00+00:00"}
    settled = settle_server_fields(
        "registrations",
        dict(returned),
        resubmitted,
        resubmitted,
        NOW,
        lambda: [SUBMITTED, returned, resubmitted],
    )
    assert settled == resubmitted


def test_a_decision_the_record_never_had_is_refused_whatever_its_history():
    with pytest.raises(ReadOnlyFieldError):
        settle_server_fields(
            "registrations",
            {**SUBMITTED, "status": "approved"},
            SUBMITTED,
            SUBMITTED,
            NOW,
            lambda: [SUBMITTED],
        )
