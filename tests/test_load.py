"""Load: many phones on several gunicorn workers, creating and editing overlapping households,
re-sending batches at random. At the end every change is accounted for (no loss, no
duplicate, versions gap-free) and every phone holds exactly the server's records.

Bounded in count and time, loopback only. CI runs a small size; the full size is

    LOAD_DEVICES=50 LOAD_CHANGES=300 LOAD_WORKERS=4 \\
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fieldsync_load pytest tests/test_load.py

(see the README's "Reliability checks").
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AppliedChange, Conflict, RecordVersion, SyncIndex
from tests.factories import household
from tests.phones import change
from tests.servers import HttpPhone, gunicorn

DEVICES = int(os.environ.get("LOAD_DEVICES", "8"))
CHANGES = int(os.environ.get("LOAD_CHANGES", "40"))  # per device
WORKERS = int(os.environ.get("LOAD_WORKERS", "4"))
USERS = max(1, DEVICES // 3)  # several phones per collaborator, all in one commune: records overlap


class LoadPhone(HttpPhone):
    """A phone over real HTTP that creates and edits households and re-sends at random."""

    def __init__(self, base: str, token: str, seed: int):
        super().__init__(base, token, seed, prefix="load")
        self.results: dict[str, dict] = {}  # change_id -> the result the phone was given
        self.sent = 0
        self.problems: list[str] = []

    def next_batch(self) -> list[dict]:
        size = min(self.rng.randint(1, 25), CHANGES - self.sent)
        changes = []
        for _ in range(size):
            known = list(self.held)
            if not known or self.rng.random() < 0.3:
                changes.append(change("households", str(uuid.uuid4()), household(), None))
                continue
            record = self.held[self.rng.choice(known)]
            data = dict(record["data"])
            roll = self.rng.random()
            if roll < 0.4:
                data["members"] = self.rng.randint(1, 12)  # contested: conflicts happen
            elif roll < 0.8:
                data["notes"] = f"{self.device_id} ghé thăm {self.rng.randint(1, 10**6)}"
            else:
                data["village"] = f"Thôn {self.rng.randint(1, 9)}"
            changes.append(change("households", record["id"], data, record["version"]))
        self.sent += size
        return changes

    def push(self, changes: list[dict]) -> None:
        url = "/api/v1/sync/push"
        body, answer = self.send(changes)
        for result in answer["results"]:
            self.results[result["change_id"]] = result
        roll = self.rng.random()
        if roll < 0.2:  # the response was lost: the same batch again answers the same
            again = self.call("POST", url, body)
            if again != answer:
                self.problems.append(f"batch {body['batch_id']} answered differently on resend")
        elif roll < 0.3:  # the phone rebuilt its outbox: same changes, new batch id
            again = self.call("POST", url, {**body, "batch_id": str(uuid.uuid4())})
            for first, second in zip(answer["results"], again["results"], strict=True):
                expected = "rejected" if first["status"] == "rejected" else "duplicate"
                if second["status"] != expected or (
                    expected == "duplicate" and second["version"] != first["version"]
                ):
                    self.problems.append(f"resent change {first['change_id']}: {first} then {second}")

    def work(self) -> None:
        try:
            while self.sent < CHANGES:
                if self.rng.random() < 0.7:
                    self.pull()
                self.push(self.next_batch())
        except Exception as exc:  # surfaced by the test thread
            self.problems.append(f"{type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_many_phones_lose_nothing_duplicate_nothing_and_converge(app, auth):
    tokens = [auth.tokens(auth.user("collaborator"))["access_token"] for _ in range(USERS)]
    with gunicorn(app, workers=WORKERS) as base:
        phones = [LoadPhone(base, tokens[i % USERS], seed=i) for i in range(DEVICES)]
        threads = [threading.Thread(target=p.work, name=p.device_id) for p in phones]
        for t in threads:
            t.start()
        for t in threads:
            t.join(1800)
        assert not any(t.is_alive() for t in threads), "a phone did not finish"
        assert [p for phone in phones for p in phone.problems] == []
        for phone in phones:
            phone.pull()

    results = {cid: r for phone in phones for cid, r in phone.results.items()}
    assert sum(phone.sent for phone in phones) == DEVICES * CHANGES
    statuses = {r["status"] for r in results.values()}
    assert statuses <= {"applied", "merged", "conflict", "rejected"}, statuses
    accepted = {cid: r for cid, r in results.items() if r["status"] != "rejected"}
    with app.app_context():
        versions = db.session.execute(
            select(RecordVersion.record_id, RecordVersion.version, RecordVersion.change_id)
        ).all()
        ledger = dict(db.session.execute(select(AppliedChange.change_id, AppliedChange.version)).all())
        index = dict(db.session.execute(select(SyncIndex.record_id, SyncIndex.version)).all())
        conflicts = set(db.session.execute(select(Conflict.id)).scalars())
        applied_rows = db.session.execute(select(func.count()).select_from(AppliedChange)).scalar_one()

    # No duplicate: one ledger row per accepted change, and only those.
    assert applied_rows == len(ledger) == len(accepted)
    assert set(ledger) == set(accepted)
    # Versions are gap-free and never written twice.
    by_record: dict[str, list[int]] = {}
    for record_id, version, _ in versions:
        by_record.setdefault(record_id, []).append(version)
    for record_id, numbers in by_record.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), record_id
    # No loss: every version a phone was told about exists; each stored version was reported.
    stored = {(rid, v) for rid, v, _ in versions}
    for r in accepted.values():
        assert (r["id"], r["version"]) in stored, r
        assert ledger[r["change_id"]] == r["version"]
    for record_id, version, change_id in versions:
        assert change_id in accepted and accepted[change_id]["id"] == record_id
        if accepted[change_id]["status"] != "conflict":
            assert accepted[change_id]["version"] == version
    created = {r["id"] for r in accepted.values()}
    assert created <= set(by_record)
    assert {r["conflict_id"] for r in accepted.values() if r["status"] == "conflict"} <= conflicts
    # Every phone converges on the server's records.
    current = {rid: max(numbers) for rid, numbers in by_record.items()}
    assert index == current
    for phone in phones:
        assert {rid: rec["version"] for rid, rec in phone.held.items()} == current
        assert {rid: rec["data"] for rid, rec in phone.held.items()} == {
            rid: rec["data"] for rid, rec in phones[0].held.items()
        }
