"""Registrations: server-managed fields, locking, resubmission and the commune's decision."""

import pytest

from sync.engine import decide_registration
from sync.errors import (
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    ValidationFailed,
    VersionConflictError,
)
from tests.engine.samples import (
    ADMIN,
    COLLABORATOR,
    DISTRICT,
    NOW,
    OFFICIAL,
    OTHER_OFFICIAL,
    change,
    data_of,
    delete,
    later,
    new_store,
    push_one,
    registration,
    seed_household,
    seed_registration,
)


@pytest.fixture
def store():
    return new_store()


@pytest.fixture
def household_id(store):
    return seed_household(store)


def pulled(store, record_id):
    """The registration as a phone holds it after a pull: server fields included."""
    return data_of(store, "registrations", record_id)


def test_a_new_registration_is_submitted_and_received_now(store, household_id):
    rid = seed_registration(store, household_id)
    data = pulled(store, rid)
    assert (data["status"], data["submitted_at"], data["decided_by"]) == ("submitted", NOW.isoformat(), None)


def test_a_phone_cannot_set_a_decision(store, household_id):
    result = push_one(
        store, COLLABORATOR, change("registrations", registration(household_id, status="approved"))
    )
    assert result["errors"]["code"] == "read_only"
    assert result["errors"]["details"] == {"status": ["Read-only: set by the server."]}


def test_a_pulled_registration_pushed_back_unchanged_is_valid_and_no_change(store, household_id):
    rid = seed_registration(store, household_id)
    result = push_one(store, COLLABORATOR, change("registrations", pulled(store, rid), record_id=rid, base=1))
    assert (result["status"], result["version"]) == ("applied", 1)


def test_an_edit_keeps_the_submission_time_of_a_submitted_form(store, household_id):
    rid = seed_registration(store, household_id)
    edit = {**pulled(store, rid), "members": 5}
    push_one(store, COLLABORATOR, change("registrations", edit, record_id=rid, base=1), now=later(60))
    assert pulled(store, rid)["submitted_at"] == NOW.isoformat()


def test_approving_sets_the_decision_as_a_new_version(store, household_id):
    rid = seed_registration(store, household_id)
    result = decide_registration(store, OFFICIAL, rid, "approve", "Đủ điều kiện", 1, later(30))
    assert result["version"] == 2
    assert {k: result["data"][k] for k in ("status", "decided_by", "decided_at", "decision_note")} == {
        "status": "approved",
        "decided_by": "minh",
        "decided_at": later(30).isoformat(),
        "decision_note": "Đủ điều kiện",
    }
    assert store.audit[-1].action == "decide" and store.audit[-1].after["status"] == "approved"


def test_a_stale_version_is_a_version_conflict(store, household_id):
    rid = seed_registration(store, household_id)
    push_one(
        store,
        COLLABORATOR,
        change("registrations", {**pulled(store, rid), "members": 5}, record_id=rid, base=1),
    )
    with pytest.raises(VersionConflictError) as refused:
        decide_registration(store, OFFICIAL, rid, "approve", None, 1, later(30))
    assert refused.value.details == {"current_version": 2}


def test_deciding_a_decided_registration_is_an_invalid_transition(store, household_id):
    rid = seed_registration(store, household_id)
    decide_registration(store, OFFICIAL, rid, "reject", "Chưa đủ", 1, later(30))
    with pytest.raises(InvalidTransitionError):
        decide_registration(store, OFFICIAL, rid, "approve", None, 2, later(31))


@pytest.mark.parametrize("actor", [COLLABORATOR, DISTRICT])
def test_only_commune_officials_and_admins_decide(store, household_id, actor):
    rid = seed_registration(store, household_id)
    with pytest.raises(ForbiddenError):
        decide_registration(store, actor, rid, "approve", None, 1, later(30))


def test_an_admin_decides_anywhere(store, household_id):
    rid = seed_registration(store, household_id)
    assert (
        decide_registration(store, ADMIN, rid, "return", "Thiếu chữ ký", 1, later(30))["data"]["status"]
        == "returned"
    )


def test_another_communes_official_does_not_see_the_registration(store, household_id):
    rid = seed_registration(store, household_id)
    with pytest.raises(NotFoundError):
        decide_registration(store, OTHER_OFFICIAL, rid, "approve", None, 1, later(30))


def test_an_unknown_decision_is_invalid(store, household_id):
    rid = seed_registration(store, household_id)
    with pytest.raises(ValidationFailed):
        decide_registration(store, OFFICIAL, rid, "maybe", None, 1, later(30))


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decided_registration_is_locked_against_edits(store, household_id, decision):
    rid = seed_registration(store, household_id)
    decide_registration(store, OFFICIAL, rid, decision, None, 1, later(30))
    edit = {**pulled(store, rid), "members": 5}
    result = push_one(store, COLLABORATOR, change("registrations", edit, record_id=rid, base=2))
    assert (result["status"], result["version"], result["errors"]["code"]) == ("rejected", 2, "locked")


def test_a_stale_edit_of_a_form_approved_meanwhile_is_locked(store, household_id):
    rid = seed_registration(store, household_id)
    stale = {**pulled(store, rid), "notes": "Thêm ghi chú"}
    decide_registration(store, OFFICIAL, rid, "approve", None, 1, later(30))
    result = push_one(store, COLLABORATOR, change("registrations", stale, record_id=rid, base=1))
    assert result["errors"]["code"] == "locked"
    assert store.rejected[result["change_id"]].errors["code"] == "locked"


def test_a_stale_unchanged_copy_of_an_approved_form_is_no_change(store, household_id):
    rid = seed_registration(store, household_id)
    stale = pulled(store, rid)
    decide_registration(store, OFFICIAL, rid, "approve", None, 1, later(30))
    result = push_one(store, COLLABORATOR, change("registrations", stale, record_id=rid, base=1))
    assert (result["status"], result["version"]) == ("merged", 2)
    assert pulled(store, rid)["status"] == "approved"


def test_an_approved_registration_cannot_be_deleted(store, household_id):
    rid = seed_registration(store, household_id)
    decide_registration(store, OFFICIAL, rid, "approve", None, 1, later(30))
    assert push_one(store, ADMIN, delete("registrations", rid, 2))["errors"]["code"] == "locked"


def test_editing_a_returned_registration_resubmits_it_and_restarts_the_clock(store, household_id):
    rid = seed_registration(store, household_id)
    decide_registration(store, OFFICIAL, rid, "return", "Thiếu chữ ký", 1, later(30))
    fixed = {**pulled(store, rid), "commitment": True, "notes": "Đã ký lại"}
    result = push_one(
        store, COLLABORATOR, change("registrations", fixed, record_id=rid, base=2), now=later(600)
    )
    assert (result["status"], result["version"]) == ("applied", 3)
    data = pulled(store, rid)
    assert (data["status"], data["submitted_at"], data["decided_by"], data["decision_note"]) == (
        "submitted",
        later(600).isoformat(),
        None,
        None,
    )
    decide_registration(store, OFFICIAL, rid, "approve", None, 3, later(700))


def test_pushing_back_a_returned_registration_unchanged_leaves_it_returned(store, household_id):
    rid = seed_registration(store, household_id)
    decide_registration(store, OFFICIAL, rid, "return", None, 1, later(30))
    result = push_one(store, COLLABORATOR, change("registrations", pulled(store, rid), record_id=rid, base=2))
    assert result["version"] == 2 and pulled(store, rid)["status"] == "returned"


def test_a_registration_cannot_move_to_another_household(store, household_id):
    rid = seed_registration(store, household_id)
    other = seed_household(store, code="HN-2")
    moved = {**pulled(store, rid), "household_id": other}
    assert push_one(store, COLLABORATOR, change("registrations", moved, record_id=rid, base=1))["errors"][
        "code"
    ] == ("read_only")
