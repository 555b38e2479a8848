"""push_batch: statuses, replay, de-duplication, scope, references, isolation."""

import pytest

from schemas.records import validate_record
from sync.engine import push_batch
from sync.errors import BatchOwnerError
from tests.engine.samples import (
    COLLABORATOR,
    MOUNTAIN_COLLABORATOR,
    NEIGHBOUR,
    NOW,
    SUPERVISOR,
    change,
    data_of,
    delete,
    household,
    later,
    new_id,
    new_store,
    push,
    push_one,
    registration,
    seed_household,
)


def test_a_new_household_is_applied_as_version_1():
    store = new_store()
    first = change("households", household())
    result = push_one(store, COLLABORATOR, first)
    assert result == {
        "change_id": first["change_id"],
        "entity": "households",
        "id": first["id"],
        "status": "applied",
        "version": 1,
        "conflict_id": None,
        "errors": None,
    }
    record = store.get_record("households", first["id"])
    assert (record.commune_code, record.district_code, record.written_at) == ("20335", "502", NOW)


def test_an_applied_change_is_audited_with_who_device_batch_and_values():
    store = new_store()
    first = change("households", household())
    push(store, COLLABORATOR, first, device="phone-7f3a", batch_id="b0b0b0b0-0000-4000-8000-000000000001")
    [entry] = store.audit
    assert (entry.username, entry.device_id, entry.batch_id, entry.change_id, entry.at) == (
        "lan",
        "phone-7f3a",
        "b0b0b0b0-0000-4000-8000-000000000001",
        first["change_id"],
        NOW,
    )
    assert entry.client_time == "2020-05-02T08:15:00+07:00"
    assert entry.before["head_name"] is None and entry.after["head_name"] == "Nguyễn Thị Lài"


def test_an_edit_on_the_current_version_is_applied_as_the_next_version():
    store = new_store()
    hid = seed_household(store)
    result = push_one(store, COLLABORATOR, change("households", household(members=5), record_id=hid, base=1))
    assert (result["status"], result["version"]) == ("applied", 2)
    assert store.audit[-1].before == {"members": 4} and store.audit[-1].after == {"members": 5}


def test_pushing_back_an_unchanged_record_writes_no_version():
    store = new_store()
    hid = seed_household(store)
    result = push_one(store, COLLABORATOR, change("households", household(), record_id=hid, base=1))
    assert (result["status"], result["version"]) == ("applied", 1)
    assert len(store.audit) == 1


def test_the_devices_last_sync_is_touched_on_every_push():
    store = new_store()
    push(store, COLLABORATOR, device="phone-1", now=later(5))
    assert store.device_syncs["phone-1"] == later(5)
    assert store.user_syncs[COLLABORATOR.user_id] == later(5)


def test_a_registration_may_follow_its_new_household_in_the_same_batch():
    store = new_store()
    new_household = change("households", household())
    results = push(
        store, COLLABORATOR, new_household, change("registrations", registration(new_household["id"]))
    )
    assert [r["status"] for r in results] == ["applied", "applied"]


def test_a_registration_before_its_household_in_the_batch_is_rejected():
    store = new_store()
    new_household = change("households", household())
    results = push(
        store, COLLABORATOR, change("registrations", registration(new_household["id"])), new_household
    )
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["errors"]["code"] == "not_found"
    assert "household_id" in results[0]["errors"]["details"]


def test_a_later_change_in_the_batch_sees_the_earlier_one():
    store = new_store()
    first = change("households", household())
    second = change("households", household(members=7), record_id=first["id"], base=1)
    results = push(store, COLLABORATOR, first, second)
    assert [(r["status"], r["version"]) for r in results] == [("applied", 1), ("applied", 2)]


def test_a_record_created_and_edited_offline_merges_against_its_own_creation():
    # Both changes carry base_version null: the phone never saw a server version.
    store = new_store()
    first = change("households", household())
    second = change("households", household(members=7), record_id=first["id"])
    results = push(store, COLLABORATOR, first, second)
    assert [(r["status"], r["version"]) for r in results] == [("applied", 1), ("applied", 2)]


def test_invalid_data_is_rejected_with_field_messages_and_stored():
    store = new_store()
    bad = change("households", household(members=0))
    result = push_one(store, COLLABORATOR, bad)
    assert result["status"] == "rejected" and result["version"] is None
    assert result["errors"]["code"] == "validation_error"
    assert result["errors"]["details"] == {
        "members": ["Must be greater than or equal to 1 and less than or equal to 100."]
    }
    assert store.rejected[bad["change_id"]].errors == result["errors"]
    assert store.rejected[bad["change_id"]].data == bad["data"]
    assert store.get_record("households", bad["id"]) is None


def test_one_rejected_change_does_not_stop_the_others():
    store = new_store()
    results = push(
        store,
        COLLABORATOR,
        change("households", household()),
        change("households", household(category="rich")),
        change("households", household(code="HN-2")),
    )
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]


def test_an_unknown_commune_is_rejected():
    result = push_one(new_store(), COLLABORATOR, change("households", household(commune_code="99999")))
    assert result["errors"]["details"] == {"commune_code": ["Not a known commune code."]}


def test_a_household_outside_the_collaborators_commune_is_out_of_scope():
    result = push_one(new_store(), COLLABORATOR, change("households", household(commune_code="20338")))
    assert (result["status"], result["errors"]["code"]) == ("rejected", "out_of_scope")


def test_a_record_outside_scope_is_not_revealed():
    store = new_store()
    hid = seed_household(store, NEIGHBOUR, commune_code="20338")
    result = push_one(
        store, COLLABORATOR, change("households", household(commune_code="20338"), record_id=hid, base=1)
    )
    assert (result["status"], result["version"], result["errors"]["code"]) == ("rejected", None, "not_found")
    assert data_of(store, "households", hid)["members"] == 4


def test_a_registration_takes_its_scope_from_its_household():
    store = new_store()
    hid = seed_household(store, MOUNTAIN_COLLABORATOR, commune_code="20437", village="Thôn A Rớh")
    result = push_one(store, COLLABORATOR, change("registrations", registration(hid)))
    assert result["errors"]["code"] == "not_found"  # another commune's household is not known here
    reg = change("registrations", registration(hid))
    assert push_one(store, MOUNTAIN_COLLABORATOR, reg)["status"] == "applied"
    assert store.get_record("registrations", reg["id"]).district_code == "504"


def test_a_registration_of_a_deleted_household_is_rejected():
    store = new_store()
    hid = seed_household(store)
    push_one(store, COLLABORATOR, delete("households", hid, 1))
    result = push_one(store, COLLABORATOR, change("registrations", registration(hid)))
    assert result["errors"]["code"] == "not_found"


def test_an_edit_claiming_an_unknown_record_is_rejected():
    result = push_one(new_store(), COLLABORATOR, change("households", household(), base=3))
    assert result["errors"]["code"] == "not_found"


def test_a_base_version_from_the_future_is_rejected():
    store = new_store()
    hid = seed_household(store)
    result = push_one(store, COLLABORATOR, change("households", household(members=2), record_id=hid, base=2))
    assert (result["status"], result["version"], result["errors"]["code"]) == (
        "rejected",
        1,
        "validation_error",
    )


def test_a_household_cannot_change_commune():
    store = new_store()
    hid = seed_household(store)
    result = push_one(
        store, COLLABORATOR, change("households", household(commune_code="20338"), record_id=hid, base=1)
    )
    assert result["errors"] == {
        "code": "read_only",
        "message": "These fields cannot change after creation.",
        "details": {"commune_code": ["Cannot change after creation."]},
    }


def test_a_supervisor_push_is_rejected_change_by_change():
    result = push_one(new_store(), SUPERVISOR, change("households", household()))
    assert (result["status"], result["errors"]["code"]) == ("rejected", "forbidden")


def test_a_change_already_applied_comes_back_as_duplicate_with_its_version():
    store = new_store()
    first = change("households", household())
    push(store, COLLABORATOR, first)
    push(store, COLLABORATOR, change("households", household(members=9), record_id=first["id"], base=1))
    again = push_one(store, COLLABORATOR, first)
    assert (again["status"], again["version"], again["errors"]) == ("duplicate", 1, None)
    assert data_of(store, "households", first["id"])["members"] == 9


def test_the_same_change_twice_in_one_batch_applies_once():
    store = new_store()
    first = change("households", household())
    results = push(store, COLLABORATOR, first, dict(first))
    assert [r["status"] for r in results] == ["applied", "duplicate"]


def test_a_rejected_change_may_be_sent_again_and_succeed():
    store = new_store()
    new_household = change("households", household())
    orphan = change("registrations", registration(new_household["id"]))
    assert push_one(store, COLLABORATOR, orphan)["status"] == "rejected"
    results = push(store, COLLABORATOR, new_household, orphan)
    assert [r["status"] for r in results] == ["applied", "applied"]


def test_replaying_a_batch_returns_the_same_response_and_changes_nothing():
    store = new_store()
    batch = [change("households", household()), change("households", household(members=-1))]
    first = push_batch(
        store, COLLABORATOR, "phone-1", "b0b0b0b0-0000-4000-8000-000000000002", batch, NOW, validate_record
    )
    versions, audit = dict(store.versions), len(store.audit)
    again = push_batch(
        store,
        COLLABORATOR,
        "phone-1",
        "b0b0b0b0-0000-4000-8000-000000000002",
        batch,
        later(9),
        validate_record,
    )
    assert again == first
    assert store.versions == versions and len(store.audit) == audit
    assert store.device_syncs["phone-1"] == later(9)


def test_another_users_batch_id_is_refused():
    store = new_store()
    push(
        store,
        COLLABORATOR,
        change("households", household()),
        batch_id="b0b0b0b0-0000-4000-8000-000000000003",
    )
    with pytest.raises(BatchOwnerError):
        push(store, NEIGHBOUR, batch_id="b0b0b0b0-0000-4000-8000-000000000003")


def test_a_delete_on_the_current_version_makes_a_tombstone_with_the_last_data():
    store = new_store()
    hid = seed_household(store)
    result = push_one(store, COLLABORATOR, delete("households", hid, 1))
    assert (result["status"], result["version"]) == ("applied", 2)
    record = store.get_record("households", hid)
    assert record.deleted and record.data["head_name"] == "Nguyễn Thị Lài"
    assert store.audit[-1].action == "delete" and store.audit[-1].after == {"deleted": True}


def test_deleting_an_unknown_record_is_rejected():
    result = push_one(new_store(), COLLABORATOR, delete("households", new_id(), 1))
    assert result["errors"]["code"] == "not_found"


def test_deleting_twice_changes_nothing_more():
    store = new_store()
    hid = seed_household(store)
    push_one(store, COLLABORATOR, delete("households", hid, 1))
    result = push_one(store, COLLABORATOR, delete("households", hid, 1))
    assert (result["status"], result["version"]) == ("merged", 2)


def test_a_rejected_change_is_placed_in_its_senders_units_for_supervisors():
    store = new_store()
    bad = change("households", household(members=0))
    push_one(store, COLLABORATOR, bad)
    kept = store.rejected[bad["change_id"]]
    assert (kept.username, kept.commune_code, kept.district_code) == ("lan", "20335", "502")


def test_a_naive_server_time_is_a_programming_error():
    with pytest.raises(ValueError, match="aware"):
        push(new_store(), COLLABORATOR, change("households", household()), now=NOW.replace(tzinfo=None))
