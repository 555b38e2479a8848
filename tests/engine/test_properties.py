"""Properties that must hold for every interleaving of several phones' offline work.

Hypothesis drives three phones of one commune (two collaborators and the commune official)
through random creates, edits on stale bases, deletes, pushes, re-sent batches, re-sent
single changes, paged pulls, decisions and conflict resolutions, and checks:

- no change is lost: each ends applied or merged (its values in the version it produced),
  in conflict (its values kept in the conflict record), rejected (stored) or duplicate;
- re-sending a batch or an accepted change changes nothing;
- every phone that pulls after the last push holds exactly the server's records;
- every record's versions run 1..n without gaps, each with its audit entry.
"""

from __future__ import annotations

import itertools
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import validate_record
from sync.actors import Actor, resolve_scope
from sync.engine import decide_registration, push_batch, resolve_conflict
from sync.errors import ConflictOpenError, SyncError
from sync.merge import same_value
from sync.records import NEEDS, REGISTRATION_SERVER_FIELDS, SET_FIELDS
from tests.engine.phones import Phone
from tests.engine.samples import COLLABORATOR, OFFICIAL, household, later, new_store, registration

SECOND_COLLABORATOR = Actor(10, "thu", "collaborator", "20335")
ACTORS = (COLLABORATOR, SECOND_COLLABORATOR, OFFICIAL)
ACCEPTED = ("applied", "merged", "conflict")

EDITS = {
    "households": {
        "members": st.integers(1, 6),
        "village": st.sampled_from(["Khối phố 1", "Khối phố 2", "Thôn Đồng Trà"]),
        "notes": st.sampled_from([None, "Ốm đau", "Có việc làm"]),
        "phone": st.sampled_from([None, "0905123456"]),
    },
    "registrations": {
        "members": st.integers(1, 6),
        "needs": st.lists(st.sampled_from(NEEDS), unique=True, max_size=3),
        "notes": st.sampled_from([None, "Cần bò giống", "Học nghề may"]),
        "commitment": st.booleans(),
    },
}


def snapshot(store):
    """Everything a re-send must leave alone."""
    return (
        {key: len(history) for key, history in store.versions.items()},
        {cid: c.status for cid, c in store.conflicts.items()},
        len(store.applied),
        len(store.audit),
    )


class World:
    def __init__(self):
        self.store = new_store()
        ids = itertools.count(1)
        self.make_id = lambda: str(uuid.UUID(int=next(ids)))
        self.phones = [
            Phone(self.store, actor, f"phone-{i}", make_id=self.make_id) for i, actor in enumerate(ACTORS)
        ]
        self.clock = itertools.count(1)
        self.accepted: list[tuple[Actor, dict]] = []
        # A shared start, as after a first day of work: every phone holds the same records,
        # so the random edits that follow collide.
        first = self.phones[0]
        for code in ("HN-1", "HN-2"):
            household_id = first.create("households", household(code=code))
            first.create("registrations", registration(household_id))
        self.push(first)
        for phone in self.phones:
            phone.pull()

    def now(self):
        return later(next(self.clock))

    def push(self, phone):
        response = phone.push(self.now())
        self.check_outcomes(phone, phone.sent[-1][1], response["results"])

    def check_outcomes(self, phone, changes, results):
        store, produced = self.store, {}
        for change, result in zip(changes, results, strict=True):
            key = (change["entity"], change["id"])
            status = result["status"]
            assert status in (*ACCEPTED, "rejected", "duplicate")
            if status == "rejected":
                assert store.rejected[change["change_id"]].data == change["data"]
                continue
            assert change["change_id"] in store.applied
            base = change["base_version"] or produced.get(key)
            produced[key] = result["version"]
            if status == "duplicate":
                continue
            self.accepted.append((phone.actor, change))
            self.check_kept(change, result, base)

    def check_kept(self, change, result, base):
        store = self.store
        version = store.get_version(change["entity"], change["id"], result["version"])
        conflict = store.get_conflict(result["conflict_id"]) if result["conflict_id"] else None
        aside = conflict.fields if conflict else {}
        if change["op"] == "delete":
            assert version.deleted or aside["deleted"]["device"] is True
            return
        base_data = dict(store.get_version(change["entity"], change["id"], base).data) if base else {}
        device, _ = validate_record(change["entity"], change["data"])
        for name, value in device.items():
            if name in REGISTRATION_SERVER_FIELDS or same_value(name, value, base_data.get(name)):
                continue
            kept = same_value(name, version.data.get(name), value) and not version.deleted
            united = name in SET_FIELDS and set(value) <= set(version.data.get(name) or [])
            set_aside = name in aside and same_value(name, aside[name]["device"], value)
            assert kept or united or set_aside, (name, value, version, aside)

    def resend_batch(self, phone, index):
        before = snapshot(self.store)
        batch_id, _, response = phone.sent[index]
        assert phone.resend(index, self.now()) == response
        assert snapshot(self.store) == before

    def resend_change(self, index):
        actor, change = self.accepted[index]
        before = snapshot(self.store)
        response = push_batch(
            self.store, actor, "phone-x", self.make_id(), [change], self.now(), validate_record
        )
        assert response["results"][0]["status"] == "duplicate"
        assert snapshot(self.store) == before

    def converge(self):
        for phone in self.phones:
            if phone.outbox:
                self.push(phone)
        for phone in self.phones:
            phone.pull(limit=3)
        for phone in self.phones:
            scope = resolve_scope(self.store, phone.actor)
            for (entity, record_id), history in self.store.versions.items():
                latest = history[-1]
                if not scope.covers(latest.commune_code, latest.district_code):
                    continue
                copy = phone.records[(entity, record_id)]
                assert (copy.data, copy.version, copy.deleted) == (
                    dict(latest.data),
                    latest.version,
                    latest.deleted,
                )
            for key in phone.records:
                if key not in self.store.versions:  # created here, refused by the server
                    refused = [c for c in self.store.rejected.values() if (c.entity, c.record_id) == key]
                    assert refused

    def check_versions(self):
        audited: dict[tuple[str, str], int] = {}
        for entry in self.store.audit:
            audited[(entry.entity, entry.record_id)] = audited.get((entry.entity, entry.record_id), 0) + 1
        for key, history in self.store.versions.items():
            assert [record.version for record in history] == list(range(1, len(history) + 1))
            assert audited[key] == len(history)


def live(phone, entity):
    return [rid for (kind, rid), copy in phone.records.items() if kind == entity and not copy.deleted]


ACTIONS = [
    "household",
    "registration",
    "edit",
    "edit",
    "edit",
    "delete",
    "push",
    "push",
    "pull",
    "resend_batch",
    "resend_change",
    "decide",
    "resolve",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_change_is_lost_resends_change_nothing_and_phones_converge(data):
    world = World()
    store = world.store
    for _ in range(data.draw(st.integers(5, 50), label="steps")):
        phone = data.draw(st.sampled_from(world.phones), label="phone")
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        households, registrations = live(phone, "households"), live(phone, "registrations")
        if action == "household":
            phone.create("households", household(members=data.draw(st.integers(1, 6))))
        elif action == "registration" and households:
            phone.create("registrations", registration(data.draw(st.sampled_from(households))))
        elif action == "edit" and households + registrations:
            entity = (
                "households"
                if not registrations or (households and data.draw(st.booleans()))
                else "registrations"
            )
            record_id = data.draw(st.sampled_from(households if entity == "households" else registrations))
            name = data.draw(st.sampled_from(sorted(EDITS[entity])))
            phone.edit(entity, record_id, **{name: data.draw(EDITS[entity][name])})
        elif action == "delete" and households + registrations:
            entity = data.draw(
                st.sampled_from(
                    ["households", "registrations"]
                    if registrations and households
                    else ["households"]
                    if households
                    else ["registrations"]
                )
            )
            phone.delete(
                entity, data.draw(st.sampled_from(households if entity == "households" else registrations))
            )
        elif action == "push":
            world.push(phone)
        elif action == "pull":
            phone.pull(limit=data.draw(st.integers(1, 4)))
        elif action == "resend_batch" and phone.sent:
            world.resend_batch(phone, data.draw(st.integers(0, len(phone.sent) - 1)))
        elif action == "resend_change" and world.accepted:
            world.resend_change(data.draw(st.integers(0, len(world.accepted) - 1)))
        elif action == "decide":
            submitted = [
                rid
                for (entity, rid), history in store.versions.items()
                if entity == "registrations"
                and not history[-1].deleted
                and history[-1].data["status"] == "submitted"
            ]
            if submitted:
                rid = data.draw(st.sampled_from(submitted))
                decision = data.draw(st.sampled_from(["approve", "reject", "return"]))
                current = store.get_record("registrations", rid)
                held = {("registrations", rid), ("households", current.data["household_id"])}
                open_on = {(c.entity, c.record_id) for c in store.conflicts.values() if c.status == "open"}
                before = snapshot(store)
                try:
                    decide_registration(store, OFFICIAL, rid, decision, None, current.version, world.now())
                    assert not held & open_on  # never decided while a conflict holds it
                except ConflictOpenError:
                    assert held & open_on and snapshot(store) == before
        elif action == "resolve":
            open_ids = [cid for cid, c in store.conflicts.items() if c.status == "open"]
            if open_ids:
                conflict_id = data.draw(st.sampled_from(open_ids))
                resolution = data.draw(st.sampled_from(["keep_server", "take_device"]))
                before = snapshot(store)
                try:
                    resolve_conflict(
                        store, OFFICIAL, conflict_id, resolution, None, world.now(), validate_record
                    )
                except SyncError:
                    assert snapshot(store) == before  # a refused resolution writes nothing
    world.converge()
    world.check_versions()
