"""push_form: one form (an ODK instance) is all or nothing, on the memory store.

A form is one act of a collaborator: the household and its registration go in together, or
neither does. If the engine refuses any change of the form, nothing of it is written and every
change is kept as refused: the one at fault with its own reason, the others `not_applied`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import validate_record
from sync.engine import push_form
from tests.engine.samples import (
    COLLABORATOR,
    NEIGHBOUR,
    NOW,
    OFFICIAL,
    change,
    household,
    later,
    new_id,
    new_store,
    registration,
    seed_household,
)


def send(store, actor, *changes, device="collect:Xb7Qz1", now=NOW):
    return push_form(store, actor, device, new_id(), list(changes), now, validate_record)


def a_form(household_id=None, **registration_fields):
    household_id = household_id or new_id()
    return (
        change("households", household(), record_id=household_id),
        change("registrations", registration(household_id, **registration_fields)),
    )


def written(store):
    """Everything a refused form must leave alone."""
    return (
        {key: len(history) for key, history in store.versions.items()},
        dict(store.applied),
        len(store.audit),
        dict(store.conflicts),
    )


def test_a_form_whose_changes_are_all_accepted_is_written_whole():
    store = new_store()
    household_change, registration_change = a_form()
    outcome = send(store, COLLABORATOR, household_change, registration_change)
    assert outcome.accepted and outcome.refusal is None
    assert [r["status"] for r in outcome.results] == ["applied", "applied"]
    # The registration found the household the same form created, before either was written.
    assert store.get_record("registrations", registration_change["id"]).commune_code == "20335"
    assert len(store.audit) == 2 and store.rejected == {}


def test_one_refused_change_writes_nothing_and_keeps_every_change_as_refused():
    store = new_store()
    before = written(store)
    household_change, registration_change = a_form(members=0)  # an invalid registration
    outcome = send(store, COLLABORATOR, household_change, registration_change)
    assert not outcome.accepted
    assert outcome.refusal["code"] == "validation_error"
    assert written(store) == before  # not even the valid household
    assert [r["status"] for r in outcome.results] == ["rejected", "rejected"]
    kept = store.rejected
    assert kept[registration_change["change_id"]].errors["code"] == "validation_error"
    innocent = kept[household_change["change_id"]].errors
    assert innocent["code"] == "not_applied" and innocent["details"]["refused_by"] == outcome.refusal
    # Filed in the sender's unit, as any refused change, for the commune's supervisors.
    assert {(r.commune_code, r.district_code) for r in kept.values()} == {("20335", "502")}
    assert store.device_syncs["collect:Xb7Qz1"] == NOW  # the phone did reach the server


def test_a_change_outside_the_senders_units_refuses_the_whole_form():
    store = new_store()
    theirs = seed_household(store, NEIGHBOUR, commune_code="20338")
    before = written(store)
    mine, registration_change = a_form()
    reaching = change("households", household(commune_code="20338"), record_id=theirs, base=1)
    outcome = send(store, COLLABORATOR, mine, reaching, registration_change)
    assert outcome.refusal["code"] == "not_found"
    assert written(store) == before
    assert store.rejected[reaching["change_id"]].errors["code"] == "not_found"
    assert store.rejected[mine["change_id"]].errors["code"] == "not_applied"


def test_a_refused_form_sent_again_once_its_cause_is_gone_is_written():
    store = new_store()
    household_id = seed_household(store)
    form = (
        change("households", household(members=5), record_id=household_id, base=1),
        change("registrations", registration(household_id)),
    )
    assert send(store, NEIGHBOUR, *form).refusal["code"] == "not_found"  # not their commune
    assert len(store.rejected) == 2
    outcome = send(store, COLLABORATOR, *form, now=later(5))
    assert outcome.accepted and [r["status"] for r in outcome.results] == ["applied", "applied"]
    assert store.rejected == {}  # the same changes went through: no refusal left


def test_a_form_sent_twice_is_duplicate_the_second_time():
    store = new_store()
    form = a_form()
    send(store, COLLABORATOR, *form)
    before = written(store)
    again = send(store, COLLABORATOR, *form, now=later(1))
    assert again.accepted and [r["status"] for r in again.results] == ["duplicate", "duplicate"]
    assert written(store)[:3] == before[:3]


def test_a_conflict_is_accepted_and_its_record_kept():
    store = new_store()
    household_id = seed_household(store)
    official = change("households", household(members=6), record_id=household_id, base=1)
    assert send(store, OFFICIAL, official).accepted
    stale = change("households", household(members=3), record_id=household_id, base=1)
    outcome = send(store, COLLABORATOR, stale, change("registrations", registration(household_id)))
    assert outcome.accepted
    assert [r["status"] for r in outcome.results] == ["conflict", "applied"]
    assert len(store.conflicts) == 1


FORM_PARTS = st.lists(
    st.tuples(st.sampled_from(["valid", "invalid", "elsewhere"]), st.booleans()), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FORM_PARTS)
def test_a_form_is_written_whole_or_not_at_all(parts):
    """Households valid, invalid or of another commune, each with or without its registration:
    the form is accepted exactly when every part is valid, and a refused form leaves the store
    as it was, with every one of its changes kept as refused."""
    store = new_store()
    theirs = seed_household(store, NEIGHBOUR, commune_code="20338")
    changes = []
    for kind, with_registration in parts:
        if kind == "elsewhere":
            household_id = theirs
            changes.append(change("households", household(commune_code="20338"), record_id=theirs, base=1))
        else:
            household_id = new_id()
            members = 0 if kind == "invalid" else 4
            changes.append(change("households", household(members=members), record_id=household_id))
        if with_registration:
            changes.append(change("registrations", registration(household_id)))
    before = written(store)
    outcome = send(store, COLLABORATOR, *changes)
    assert outcome.accepted == all(kind == "valid" for kind, _ in parts)
    if outcome.accepted:
        assert {r["status"] for r in outcome.results} == {"applied"}
        assert {c["change_id"] for c in changes} <= set(store.applied)
    else:
        assert written(store) == before
        assert set(store.rejected) == {c["change_id"] for c in changes}
        codes = [store.rejected[c["change_id"]].errors["code"] for c in changes]
        assert any(code != "not_applied" for code in codes)
        assert {r["status"] for r in outcome.results} == {"rejected"}
