"""The pull index keeps each record's current version as the JSON a pull answers.

A pull page is then one range of ``sync_index`` whose ``record_json`` is spliced into the
answer: no join to ``record_versions``. These tests hold the stored text to the version it
stands for (through pushes, merges and deletes), the page to the pull index alone, and the
migration to a backfill that gives old rows the same answer.
"""

from __future__ import annotations

import json
import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from server.extensions import db
from server.models import RecordVersion, SyncIndex
from tests.factories import household, put, put_many, registration
from tests.phones import change, statuses
from tests.statements import statements_run

# The revision before the pull index kept the JSON (the migration under test follows it).
BEFORE_RECORD_JSON = "8348cf3cd96f"


def push(client, headers, changes):
    body = {"device_id": "phone-json", "batch_id": str(uuid.uuid4()), "changes": changes}
    resp = client.post("/api/v1/sync/push", json=body, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def full_pull(client, headers, limit=1000):
    changes, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/sync/pull?{query}", headers=headers).get_json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["more"]:
            return changes


def stored_json_and_versions(app):
    """Each pull-index row's stored JSON, and the version row it points at, as a pull shows it."""
    with app.app_context():
        rows = db.session.execute(select(SyncIndex)).scalars().all()
        pairs = []
        for row in rows:
            version = db.session.get(RecordVersion, (row.entity, row.record_id, row.version))
            wire = {
                "entity": version.entity,
                "id": version.record_id,
                "version": version.version,
                "deleted": version.deleted,
                "data": version.data,
            }
            pairs.append((json.loads(row.record_json), wire))
        return pairs


def test_the_stored_json_follows_every_write_of_a_record(app, client, auth):
    headers = auth.headers("collaborator")
    hid, rid, gone = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    reg = registration(hid)
    for name in ("status", "submitted_at", "decided_by", "decided_at", "decision_note"):
        reg.pop(name)
    first = push(
        client,
        headers,
        [
            change("households", hid, household(code="HH-1", village="Thôn 1"), None),
            change("registrations", rid, reg, None),
            change("households", gone, household(code="HH-2"), None),
        ],
    )
    assert statuses(first) == ["applied"] * 3
    # An edit from the base, a concurrent edit of another field (merged), then a delete.
    push(client, headers, [change("households", hid, household(code="HH-1", village="Thôn 2"), 1)])
    merged = push(client, headers, [change("households", hid, household(code="HH-1", members=7), 1)])
    assert statuses(merged) == ["merged"]
    deleted = push(client, headers, [change("households", gone, {}, 1, op="delete")])
    assert statuses(deleted) == ["applied"]

    pairs = stored_json_and_versions(app)
    assert len(pairs) == 3
    for stored, version in pairs:
        assert stored == version
    by_id = {stored["id"]: stored for stored, _ in pairs}
    assert by_id[hid]["version"] == 3 and by_id[hid]["data"]["village"] == "Thôn 2"
    assert by_id[hid]["data"]["members"] == 7
    assert by_id[gone]["deleted"] is True and by_id[gone]["data"]["code"] == "HH-2"  # a tombstone
    # And the pull answers exactly that text's records, in the stored shape.
    assert sorted(full_pull(client, headers), key=lambda r: r["id"]) == sorted(
        (stored for stored, _ in pairs), key=lambda r: r["id"]
    )


def test_a_pull_page_reads_the_pull_index_alone(app, client, auth):
    with app.app_context():
        put_many("households", [household(code=f"H{n}") for n in range(30)])
    headers = auth.headers("collaborator")
    with statements_run(app) as seen:
        page = client.get("/api/v1/sync/pull?limit=10", headers=headers).get_json()
    assert len(page["changes"]) == 10 and page["remaining"] == 20
    assert seen, "the pull ran no statement at all"
    assert not [s for s in seen if "record_versions" in s]
    # The bearer token's user and its family's revocation are read in one statement; then
    # the scope, the page and the count (the scope takes one statement more on SQLite).
    token_reads = [s for s in seen if "refresh_tokens" in s]
    assert len(token_reads) == 1 and token_reads[0].lstrip().startswith("SELECT users."), seen
    assert len(seen) <= 5, seen


def test_the_migration_backfills_the_json_of_existing_records(app, client, auth):
    with app.app_context():
        hid = put("households", household(code="HH-old", notes="Ghi chú: hộ có 2 người già"))
        put("households", household(code="HH-old", notes="sửa lại"), record_id=hid, version=2)
        put("registrations", registration(hid), commune_code="20920")
        put("households", household(code="HH-gone"), deleted=True)
    headers = auth.headers("collaborator")
    before = full_pull(client, headers, limit=2)
    assert len(before) == 3

    with app.app_context():
        db.session.remove()
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision=BEFORE_RECORD_JSON)
        assert "record_json" not in {c["name"] for c in db.inspect(db.engine).get_columns("sync_index")}
        upgrade(directory=directory)
        db.session.remove()

    after = full_pull(client, headers, limit=2)
    assert after == before
    for stored, version in stored_json_and_versions(app):
        assert stored == version
