"""A push reads only what it announced in `prefetch`, so a SQL store can load a batch in bulk."""

from sync.engine import decide_registration
from sync.memory import MemoryStore
from tests.engine.samples import (
    COLLABORATOR,
    DISTRICT,
    OFFICIAL,
    UNITS,
    change,
    delete,
    household,
    later,
    payout,
    push,
    registration,
    seed_household,
    seed_registration,
)


class CountingStore(MemoryStore):
    """Counts reads of keys neither prefetched nor written earlier in the same push."""

    def __init__(self):
        super().__init__(UNITS)
        self.known: set = set()
        self.unannounced: list = []
        self.prefetches = 0

    def prefetch(self, *, records=(), versions=(), change_ids=(), units=(), conflicts_on=()):
        self.prefetches += 1
        self.known |= {("conflicts", *key) for key in conflicts_on}
        self.known |= {("unit", code) for code in units}
        self.known |= {("record", *key) for key in records}
        self.known |= {("version", *key) for key in versions}
        self.known |= {("change", key) for key in change_ids}

    def _read(self, key):
        if key not in self.known:
            self.unannounced.append(key)

    def get_unit(self, code):
        self._read(("unit", code))
        return super().get_unit(code)

    def get_record(self, entity, record_id):
        self._read(("record", entity, record_id))
        return super().get_record(entity, record_id)

    def get_version(self, entity, record_id, version):
        self._read(("version", entity, record_id, version))
        return super().get_version(entity, record_id, version)

    def list_open_conflicts(self, records):
        for key in records:
            self._read(("conflicts", *key))
        return super().list_open_conflicts(records)

    def get_applied_change(self, change_id):
        self._read(("change", change_id))
        return super().get_applied_change(change_id)

    def save_version(self, record):
        # A version written in this push is in the store's write buffer: reading it is free.
        self.known |= {
            ("record", record.entity, record.id),
            ("version", record.entity, record.id, record.version),
        }
        super().save_version(record)


def test_a_mixed_batch_reads_nothing_it_did_not_announce():
    store = CountingStore()
    existing = seed_household(store)
    decided = seed_registration(store, existing)
    decide_registration(store, OFFICIAL, decided, "approve", None, 1, later(1))
    stale = seed_household(store, code="HN-9")
    elsewhere = seed_household(store, code="HN-7")
    push(
        store, COLLABORATOR, change("households", household(code="HN-9", members=2), record_id=stale, base=1)
    )
    store.known.clear()
    store.unannounced.clear()
    store.prefetches = 0

    new_household = change("households", household(code="HN-NEW"))
    batch = [
        new_household,
        change("registrations", registration(new_household["id"])),
        change("households", household(code="HN-NEW", members=6), record_id=new_household["id"]),
        change("households", household(members=5), record_id=existing, base=1),
        change("households", household(code="HN-9", village="Thôn 2"), record_id=stale, base=1),  # merge
        change("registrations", registration(existing, members=2), record_id=decided, base=1),  # locked
        delete("households", stale, 1),  # conflict
        change("households", household(members=0)),  # invalid
        change("registrations", registration(elsewhere)),  # refers to a household not in the batch
    ]
    statuses = [r["status"] for r in push(store, COLLABORATOR, *batch, now=later(5))]
    assert statuses == [
        "applied",
        "applied",
        "applied",
        "applied",
        "merged",
        "rejected",
        "conflict",
        "rejected",
        "applied",
    ]
    assert store.prefetches == 1
    assert store.unannounced == []


def test_a_payout_moving_into_a_held_state_reads_only_announced_conflicts():
    store = CountingStore()
    hh = seed_household(store)
    payout_change = change("payouts", payout(hh))
    assert push(store, DISTRICT, payout_change)[0]["status"] == "applied"
    store.known.clear()
    store.unannounced.clear()
    store.prefetches = 0
    approve = change("payouts", payout(hh, status="approved"), record_id=payout_change["id"], base=1)
    assert [r["status"] for r in push(store, DISTRICT, approve, now=later(5))] == ["applied"]
    assert store.prefetches == 1
    assert store.unannounced == []
