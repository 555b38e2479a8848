"""One contract, every store: the behaviour the engine relies on, run on MemoryStore and SqlStore.

Like Kinto's storage test suite run by both its memory and PostgreSQL backends: whatever the
engine's tests prove on the in-memory store holds on SQL only if both stores answer the
same way. The tests talk to the `sync.store.Store` protocol alone (what they need to read,
the protocol offers); the SQL store runs on the suite's database, SQLite by default and
PostgreSQL with `DATABASE_URL`, so CI covers all three. "Commit" ends a request: the SQL store
flushes and commits, the next request gets a fresh store; the memory store simply carries on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.cli import DATA
from server.extensions import db
from server.store.sync import SqlStore
from sync.actors import Actor, resolve_scope
from sync.duplicates import DuplicateCase, HouseholdFacts, pair_id
from sync.memory import MemoryStore, load_units_csv
from sync.records import AppliedChange, Conflict, Record, RejectedChange, StoredBatch
from tests.factories import household, new_id, payout, registration, support_item

T0 = datetime(2020, 5, 2, 3, 0, tzinfo=UTC)
TRA_DOC, TRA_SON, CH_OM = ("20920", "515"), ("20900", "515"), ("20437", "504")
UNITS_CSV = DATA / "quang_nam_units_2020.csv"


class Harness:
    """Hands out a store per request and commits it."""

    def __init__(self, kind: str):
        self.kind = kind
        self.memory = MemoryStore(load_units_csv(UNITS_CSV)) if kind == "memory" else None
        self.store = self.memory or SqlStore()

    def commit(self):
        if self.kind == "sql":
            self.store.flush()
            db.session.commit()
            self.store = SqlStore()
        return self.store

    def refusals(self, *change_ids: str) -> dict[str, tuple]:
        """The kept refusals of `change_ids`, as change_id -> (commune, district, error code)."""
        kept = [self.store.get_rejected_change(change_id) for change_id in change_ids]
        return {
            c.change_id: (c.commune_code, c.district_code, c.errors["code"]) for c in kept if c is not None
        }


@pytest.fixture(params=["memory", "sql"])
def harness(request, app):
    with app.app_context():
        yield Harness(request.param)
        db.session.rollback()


def version(record_id, number, place=TRA_DOC, deleted=False, at=T0, **fields):
    data = household(commune_code=place[0], code=f"HH-{record_id[:6]}", **fields)
    return Record("households", record_id, number, deleted, data, place[0], place[1], at)


def scope_of(store, unit_code):
    return resolve_scope(store, Actor(1, "x", "supervisor", unit_code))


def test_a_version_is_read_back_in_its_own_transaction_and_after_commit(harness):
    store, rid = harness.store, new_id()
    store.save_version(version(rid, 1))
    assert store.get_record("households", rid).version == 1
    store = harness.commit()
    record = store.get_record("households", rid)
    assert (record.version, record.deleted, record.commune_code, record.district_code) == (1, False, *TRA_DOC)
    assert record.data["head_name"] == "Hồ Văn Thương" and record.written_at == T0


def test_every_version_is_kept(harness):
    store, rid = harness.store, new_id()
    store.save_version(version(rid, 1))
    store = harness.commit()
    store.save_version(version(rid, 2, members=5, at=T0 + timedelta(hours=1)))
    store.save_version(version(rid, 3, deleted=True, members=5, at=T0 + timedelta(hours=2)))
    assert [r.version for r in store.list_versions("households", rid)] == [1, 2, 3]
    store = harness.commit()
    assert store.get_version("households", rid, 1).data["members"] == 4
    assert store.get_version("households", rid, 2).written_at == T0 + timedelta(hours=1)
    assert store.get_record("households", rid).deleted
    assert [r.data["members"] for r in store.list_versions("households", rid)] == [4, 5, 5]


def test_unknown_keys_read_as_nothing(harness):
    store, rid = harness.store, new_id()
    store.prefetch(records=[("households", rid)], versions=[("households", rid, 1)], change_ids=[rid])
    assert store.get_record("households", rid) is None
    assert store.get_version("households", rid, 1) is None
    assert store.get_applied_change(rid) is None
    assert store.get_batch(rid) is None and store.get_conflict(rid) is None
    assert store.list_versions("households", rid) == []


def test_a_prefetched_absence_does_not_hide_a_later_write(harness):
    store, rid = harness.store, new_id()
    store.prefetch(records=[("households", rid)])
    store.save_version(version(rid, 1))
    assert store.get_record("households", rid).version == 1


def test_the_feed_lists_each_record_once_at_its_latest_version(harness):
    store, first, second = harness.store, new_id(), new_id()
    store.save_version(version(first, 1))
    store.save_version(version(second, 1))
    store = harness.commit()
    store.save_version(version(first, 2, members=6))
    store = harness.commit()
    feed = store.list_feed(scope_of(store, "49"), 0, 100)
    assert [(e.record["id"], e.record["version"]) for e in feed] == [(second, 1), (first, 2)]
    assert feed[0].seq < feed[1].seq
    assert [e.record["id"] for e in store.list_feed(scope_of(store, "49"), feed[0].seq, 100)] == [first]
    assert store.list_feed(scope_of(store, "49"), feed[1].seq, 100) == []
    # Each entry is the record in the contract's shape, with its data as stored.
    assert dict(feed[1].record) == {
        "entity": "households",
        "id": first,
        "version": 2,
        "deleted": False,
        "data": {**version(first, 2, members=6).data},
    }


def test_the_feed_pages_by_position(harness):
    store = harness.store
    ids = [new_id() for _ in range(5)]
    for rid in ids:
        store.save_version(version(rid, 1))
    store = harness.commit()
    seen, after = [], 0
    while page := store.list_feed(scope_of(store, "49"), after, 2):
        assert len(page) <= 2
        seen += [e.record["id"] for e in page]
        after = page[-1].seq
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize(
    ("unit", "expected"), [("20920", {"a"}), ("515", {"a", "b"}), ("504", {"c"}), ("49", {"a", "b", "c"})]
)
def test_the_feed_is_scoped_by_unit(harness, unit, expected):
    store = harness.store
    ids = {"a": new_id(), "b": new_id(), "c": new_id()}
    store.save_version(version(ids["a"], 1, TRA_DOC))
    store.save_version(version(ids["b"], 1, TRA_SON))
    store.save_version(version(ids["c"], 1, CH_OM))
    store = harness.commit()
    found = {e.record["id"] for e in store.list_feed(scope_of(store, unit), 0, 100)}
    assert found == {ids[name] for name in expected}


@pytest.mark.parametrize(("unit", "expected"), [("20920", 2), ("515", 3), ("504", 1), ("49", 4)])
def test_the_feed_counts_what_remains_in_scope(harness, unit, expected):
    store = harness.store
    first = new_id()
    for rid, where in ((first, TRA_DOC), (new_id(), TRA_DOC), (new_id(), TRA_SON), (new_id(), CH_OM)):
        store.save_version(version(rid, 1, where))
    store = harness.commit()
    store.save_version(version(first, 2, TRA_DOC, members=7))  # counted once, at its latest
    store = harness.commit()
    scope = scope_of(store, unit)
    assert store.count_feed(scope, 0) == expected == len(store.list_feed(scope, 0, 100))
    last = store.list_feed(scope, 0, 100)[-1].seq
    assert store.count_feed(scope, last) == 0


def test_applied_changes_and_batches_are_kept(harness):
    store, rid, change_id, batch_id = harness.store, new_id(), new_id(), new_id()
    store.save_version(version(rid, 1))
    store.save_applied_change(
        AppliedChange(change_id, batch_id, "phone-1", 1, "households", rid, "applied", 1, None, T0)
    )
    assert store.get_applied_change(change_id).version == 1
    store.save_batch(StoredBatch(batch_id, 1, "phone-1", T0, {"batch_id": batch_id, "results": []}))
    store = harness.commit()
    applied = store.get_applied_change(change_id)
    assert (applied.entity, applied.record_id, applied.status, applied.version) == (
        "households",
        rid,
        "applied",
        1,
    )
    assert store.get_batch(batch_id).response == {"batch_id": batch_id, "results": []}


def refusal(change_id, code, place=TRA_DOC):
    return RejectedChange(
        change_id, new_id(), "phone-1", 1, "lan", place[0] or place[1], "registrations", new_id(),
        "upsert", None, {"year": 2020}, {"code": code, "message": "", "details": {}}, T0,
        commune_code=place[0], district_code=place[1],
    )  # fmt: skip


def applied(change_id, rid):
    return AppliedChange(change_id, new_id(), "phone-1", 1, "households", rid, "applied", 1, None, T0)


def test_a_refusal_is_kept_in_the_senders_unit_until_the_change_goes_through(harness):
    store, rid, early, late, same_batch = harness.store, new_id(), new_id(), new_id(), new_id()
    store.save_rejected_change(refusal(early, "not_found"))
    store.save_rejected_change(refusal(late, "forbidden", place=(None, "515")))
    assert harness.refusals(early)[early][2] == "not_found"  # read back in its own transaction
    store = harness.commit()
    every = (early, late, same_batch)
    assert harness.refusals(*every) == {
        early: ("20920", "515", "not_found"),
        late: (None, "515", "forbidden"),
    }
    # Refused again: one refusal, the latest. Then accepted: no refusal left.
    store.save_rejected_change(refusal(early, "validation_error"))
    store = harness.commit()
    assert harness.refusals(early)[early] == ("20920", "515", "validation_error")
    store.save_version(version(rid, 1))
    store.save_applied_change(applied(early, rid))
    # Refused and accepted within one transaction (a batch holding the change twice).
    store.save_rejected_change(refusal(same_batch, "not_found"))
    store.save_applied_change(applied(same_batch, new_id()))
    assert harness.refusals(same_batch) == {}
    store = harness.commit()
    assert harness.refusals(*every) == {late: (None, "515", "forbidden")}


def follow_up(entity, record_id, household_id, number=1):
    build = {"registrations": registration, "support_items": support_item, "payouts": payout}[entity]
    data = build(household_id) if entity == "registrations" else build(household_id, new_id())
    return Record(entity, record_id, number, False, data, *TRA_DOC, T0)


def test_a_households_records_are_listed_with_this_transactions_own_writes(harness):
    store, hh, other = harness.store, new_id(), new_id()
    reg, item, paid = new_id(), new_id(), new_id()
    store.save_version(version(hh, 1))
    store.save_version(follow_up("registrations", reg, hh))
    store.save_version(follow_up("support_items", new_id(), other))  # another household's
    store = harness.commit()
    store.save_version(follow_up("support_items", item, hh))  # not committed yet
    store.save_version(replace(follow_up("registrations", reg, hh, 2), deleted=True))
    listed = {(r.entity, r.id): (r.version, r.deleted) for r in store.list_household_records(hh)}
    assert listed == {("registrations", reg): (2, True), ("support_items", item): (1, False)}
    store.save_version(follow_up("payouts", paid, hh))
    store = harness.commit()
    assert {r.id for r in store.list_household_records(hh)} == {reg, item, paid}
    assert store.list_household_records(new_id()) == []


def test_conflicts_are_kept_listed_in_scope_and_resolved(harness):
    store, rid = harness.store, new_id()
    store.save_version(version(rid, 1))
    conflict = Conflict(
        id=new_id(),
        entity="households",
        record_id=rid,
        change_id=new_id(),
        base_version=1,
        server_version=1,
        fields={"members": {"base": 4, "server": 6, "device": 3}},
        device_id="phone-1",
        batch_id=new_id(),
        user_id=None,
        username="lan",
        created_at=T0,
        commune_code=TRA_DOC[0],
        district_code=TRA_DOC[1],
    )
    store.create_conflict(conflict)
    assert store.get_conflict(conflict.id).fields == conflict.fields
    store = harness.commit()
    assert [c.id for c in store.list_conflicts(scope_of(store, "515"), status="open")] == [conflict.id]
    assert store.list_conflicts(scope_of(store, "504")) == []
    assert store.list_conflicts(scope_of(store, "49"), unit_code="20900") == []
    resolved = replace(
        conflict,
        status="resolved",
        resolution="keep_server",
        resolved_by="minh",
        resolved_at=T0 + timedelta(hours=1),
        resolved_version=2,
    )
    store.save_conflict_resolution(resolved)
    store = harness.commit()
    kept = store.get_conflict(conflict.id)
    assert (kept.status, kept.resolution, kept.resolved_version) == ("resolved", "keep_server", 2)
    assert store.list_conflicts(scope_of(store, "49"), status="open") == []


def test_units_are_looked_up_with_their_parents(harness):
    store = harness.store
    assert store.get_unit("20920").parent_code == "515" and store.get_unit("20920").level == "commune"
    assert "515" in {unit.code for unit in store.list_child_units("49")}
    assert store.get_unit("nope") is None


def test_open_conflicts_are_read_by_record_before_and_after_commit(harness):
    store, rid, other = harness.store, new_id(), new_id()
    store.save_version(version(rid, 1))
    store.save_version(version(other, 1))
    conflict = Conflict(
        id=new_id(),
        entity="households",
        record_id=rid,
        change_id=new_id(),
        base_version=1,
        server_version=1,
        fields={"village": {"base": "A", "server": "B", "device": "C"}},
        device_id="phone-1",
        batch_id=new_id(),
        user_id=None,
        username="lan",
        created_at=T0,
        commune_code=TRA_DOC[0],
        district_code=TRA_DOC[1],
    )
    store.prefetch(conflicts_on=[("households", rid)])
    assert store.list_open_conflicts([("households", rid)]) == []
    store.create_conflict(conflict)  # read your writes: the prefetched "none" is stale now
    assert [c.id for c in store.list_open_conflicts([("households", rid), ("payouts", rid)])] == [conflict.id]
    store = harness.commit()
    assert [c.id for c in store.list_open_conflicts([("households", rid)])] == [conflict.id]
    assert store.list_open_conflicts([("households", other), ("registrations", rid)]) == []
    store.save_conflict_resolution(replace(conflict, status="resolved", resolution="keep_server"))
    assert store.list_open_conflicts([("households", rid)]) == []
    store = harness.commit()
    assert store.list_open_conflicts([("households", rid)]) == []


def test_duplicate_candidates_share_a_key_in_the_same_commune_and_exclude_tombstones(harness):
    store = harness.store
    ids = {name: new_id() for name in ("name", "phone", "code", "other_commune", "deleted", "stranger")}
    store.save_version(version(ids["name"], 1, head_name="Hồ Thị Xuân Lan"))
    store.save_version(version(ids["phone"], 1, head_name="Lê Văn Tám", phone="0905 123 456"))
    store.save_version(
        replace(
            version(ids["code"], 1, head_name="Trần Văn Ba"),
            data={**household(code="TD-1", head_name="Trần Văn Ba")},
        )
    )
    store.save_version(version(ids["other_commune"], 1, place=TRA_SON, head_name="Hồ Thị Xuân Lan"))
    store.save_version(version(ids["deleted"], 1, deleted=True, head_name="Hồ Thị Xuân Lan"))
    store.save_version(version(ids["stranger"], 1, head_name="Nguyễn Văn Khác"))
    store = harness.commit()
    arrived = HouseholdFacts(new_id(), *TRA_DOC, "TD-1", "thon 2", "ho thi xuan lan", 4, "0905123456")
    found = {facts.id: facts for facts in store.find_duplicate_candidates([arrived])}
    assert set(found) == {ids["name"], ids["phone"], ids["code"]}
    assert found[ids["name"]].head_name_key == "ho thi xuan lan" and found[ids["name"]].village == "thon 2"

    case_id = pair_id(arrived.id, ids["name"])
    case = DuplicateCase(
        case_id, tuple(sorted((arrived.id, ids["name"]))), ("same_head_name",), *TRA_DOC, T0, "x"
    )
    store.create_duplicate_case(case)
    assert store.get_duplicate_cases([case_id, "nothing"]) == {case_id: case}
    store = harness.commit()
    assert store.get_duplicate_case(case_id) == case
    settled = replace(case, status="settled", decision="distinct", settled_by="y", settled_at=T0)
    store.save_duplicate_settlement(settled)
    store = harness.commit()
    assert store.get_duplicate_case(case_id) == settled
