"""Merges, conflicts and their resolution."""

import pytest

from schemas.records import validate_record
from sync.actors import resolve_scope
from sync.engine import pull, resolve_conflict
from sync.errors import ForbiddenError, InvalidTransitionError, NotFoundError, ValidationFailed
from tests.engine.samples import (
    COLLABORATOR,
    DISTRICT,
    OFFICIAL,
    OTHER_OFFICIAL,
    SUPERVISOR,
    change,
    data_of,
    delete,
    household,
    later,
    new_store,
    push_one,
    seed_household,
)


@pytest.fixture
def store():
    return new_store()


@pytest.fixture
def hid(store):
    return seed_household(store)


def edit(store, record_id, base, actor=COLLABORATOR, **fields):
    return push_one(store, actor, change("households", household(**fields), record_id=record_id, base=base))


def test_edits_of_different_fields_merge(store, hid):
    edit(store, hid, 1, village="Khối phố 4")
    result = edit(store, hid, 1, members=6)
    assert (result["status"], result["version"], result["conflict_id"]) == ("merged", 3, None)
    data = data_of(store, "households", hid)
    assert (data["village"], data["members"]) == ("Khối phố 4", 6)


def test_a_conflict_applies_the_other_fields_and_keeps_the_device_values(store, hid):
    edit(store, hid, 1, members=6)
    result = edit(store, hid, 1, members=3, phone="0905123456")
    assert (result["status"], result["version"]) == ("conflict", 3)
    data = data_of(store, "households", hid)
    assert (data["members"], data["phone"]) == (6, "0905123456")
    conflict = store.get_conflict(result["conflict_id"])
    assert conflict.fields == {"members": {"base": 4, "server": 6, "device": 3}}
    assert (conflict.base_version, conflict.server_version, conflict.device_id, conflict.status) == (
        1,
        3,
        "phone-1",
        "open",
    )


def test_a_conflict_that_leaves_nothing_to_apply_changes_neither_record_nor_version(store, hid):
    edit(store, hid, 1, members=6)
    versions = len(store.versions[("households", hid)])
    result = edit(store, hid, 1, members=3)
    assert (result["status"], result["version"]) == ("conflict", 2)
    assert len(store.versions[("households", hid)]) == versions
    assert store.get_conflict(result["conflict_id"]).fields["members"]["device"] == 3


def test_a_resent_conflicting_change_opens_no_second_conflict(store, hid):
    edit(store, hid, 1, members=6)
    first = change("households", household(members=3), record_id=hid, base=1)
    result = push_one(store, COLLABORATOR, first)
    again = push_one(store, COLLABORATOR, first)
    assert (again["status"], again["conflict_id"]) == ("duplicate", result["conflict_id"])
    assert len(store.conflicts) == 1


def test_a_delete_of_a_record_changed_since_is_a_conflict_not_a_delete(store, hid):
    edit(store, hid, 1, members=6)
    result = push_one(store, COLLABORATOR, delete("households", hid, 1))
    assert (result["status"], result["version"]) == ("conflict", 2)
    assert not store.get_record("households", hid).deleted
    assert store.get_conflict(result["conflict_id"]).fields == {
        "deleted": {"base": False, "server": False, "device": True}
    }


def test_an_edit_of_a_record_deleted_since_is_a_conflict_and_it_stays_deleted(store, hid):
    push_one(store, COLLABORATOR, delete("households", hid, 1))
    result = edit(store, hid, 1, members=6)
    assert (result["status"], result["version"]) == ("conflict", 2)
    assert store.get_record("households", hid).deleted
    assert store.get_conflict(result["conflict_id"]).fields == {
        "deleted": {"base": False, "server": True, "device": False},
        "members": {"base": 4, "server": 4, "device": 6},
    }


def test_an_edit_on_a_tombstone_the_device_has_seen_restores_the_record(store, hid):
    push_one(store, COLLABORATOR, delete("households", hid, 1))
    result = edit(store, hid, 2, members=6)
    assert (result["status"], result["version"]) == ("applied", 3)
    assert not store.get_record("households", hid).deleted


def test_two_creators_of_one_id_conflict_on_the_fields_they_disagree_on(store, hid):
    result = push_one(
        store, COLLABORATOR, change("households", household(members=5), record_id=hid), device="phone-2"
    )
    assert result["status"] == "conflict"
    assert set(store.get_conflict(result["conflict_id"]).fields) == {"members"}


def open_conflict(store, hid):
    edit(store, hid, 1, members=6, village="Khối phố 4")
    return edit(store, hid, 1, members=3, phone="0905123456")["conflict_id"]


def test_taking_the_device_values_makes_a_new_version_every_device_pulls(store, hid):
    conflict_id = open_conflict(store, hid)
    cursor = pull(store, COLLABORATOR, None, 100)["cursor"]
    outcome = resolve_conflict(store, OFFICIAL, conflict_id, "take_device", None, later(60), validate_record)
    assert outcome["record"]["version"] == 4
    assert outcome["record"]["data"]["members"] == 3
    assert outcome["record"]["data"]["village"] == "Khối phố 4"
    assert outcome["conflict"]["status"] == "resolved" and outcome["conflict"]["resolved_version"] == 4
    pulled = pull(store, COLLABORATOR, cursor, 100)["changes"]
    assert [(c["id"], c["version"]) for c in pulled] == [(hid, 4)]
    assert store.audit[-1].action == "resolve" and store.audit[-1].after == {"members": 3}


def test_keeping_the_server_values_still_makes_a_new_version(store, hid):
    conflict_id = open_conflict(store, hid)
    outcome = resolve_conflict(
        store, SUPERVISOR, conflict_id, "keep_server", None, later(60), validate_record
    )
    assert (outcome["record"]["version"], outcome["record"]["data"]["members"]) == (4, 6)


def test_a_custom_resolution_writes_the_persons_values(store, hid):
    conflict_id = open_conflict(store, hid)
    outcome = resolve_conflict(
        store, OFFICIAL, conflict_id, "custom", {"members": 5}, later(60), validate_record
    )
    assert outcome["record"]["data"]["members"] == 5


def test_a_custom_resolution_is_validated(store, hid):
    conflict_id = open_conflict(store, hid)
    with pytest.raises(ValidationFailed):
        resolve_conflict(store, OFFICIAL, conflict_id, "custom", {"members": 0}, later(60), validate_record)
    with pytest.raises(ValidationFailed):
        resolve_conflict(store, OFFICIAL, conflict_id, "custom", None, later(60), validate_record)


def test_taking_the_device_side_of_a_delete_conflict_deletes(store, hid):
    edit(store, hid, 1, members=6)
    conflict_id = push_one(store, COLLABORATOR, delete("households", hid, 1))["conflict_id"]
    outcome = resolve_conflict(store, OFFICIAL, conflict_id, "take_device", None, later(60), validate_record)
    assert outcome["record"]["deleted"] is True


def test_collaborators_do_not_resolve(store, hid):
    conflict_id = open_conflict(store, hid)
    with pytest.raises(ForbiddenError):
        resolve_conflict(store, COLLABORATOR, conflict_id, "keep_server", None, later(60), validate_record)


def test_a_conflict_outside_scope_is_not_found(store, hid):
    conflict_id = open_conflict(store, hid)
    with pytest.raises(NotFoundError):
        resolve_conflict(store, OTHER_OFFICIAL, conflict_id, "keep_server", None, later(60), validate_record)


def test_a_conflict_is_resolved_once(store, hid):
    conflict_id = open_conflict(store, hid)
    resolve_conflict(store, OFFICIAL, conflict_id, "keep_server", None, later(60), validate_record)
    with pytest.raises(InvalidTransitionError):
        resolve_conflict(store, OFFICIAL, conflict_id, "take_device", None, later(61), validate_record)


def test_conflicts_are_listed_in_scope(store, hid):
    conflict_id = open_conflict(store, hid)
    assert [c.id for c in store.list_conflicts(resolve_scope(store, DISTRICT), status="open")] == [
        conflict_id
    ]
    assert store.list_conflicts(resolve_scope(store, OTHER_OFFICIAL)) == []
