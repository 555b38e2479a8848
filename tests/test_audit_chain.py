"""The audit trail as a hash chain, over HTTP and in the database itself: an entry edited or
deleted directly in the database is named by `flask --app wsgi verify-audit`."""

from __future__ import annotations

import csv
import io
import threading

from sqlalchemy import select, text

from server.extensions import db
from server.models import AuditEntry
from sync.trail import GENESIS, entry_hash
from tests import factories as f
from tests.phones import Phone, statuses


def write_some(client, auth, n=3) -> Phone:
    phone = Phone(client, auth.headers("collaborator"))
    ids = [phone.create("households", f.household(code=f"HH-C{i}")) for i in range(n)]
    assert statuses(phone.sync()) == ["applied"] * n
    for hid in ids:
        phone.edit("households", hid, members=6)
    assert statuses(phone.sync()) == ["applied"] * n
    return phone


def entries(app) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.chain_position)).scalars().all()
        db.session.expunge_all()
        return rows


def sql(app, statement: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def test_each_entry_carries_its_hash_and_its_predecessors(app, client, auth):
    write_some(client, auth)
    rows = entries(app)
    assert [r.chain_position for r in rows] == list(range(1, len(rows) + 1))  # accounts too
    assert rows[0].prev_hash == GENESIS
    for before, entry in zip(rows, rows[1:], strict=False):
        assert entry.prev_hash == before.entry_hash
    # The hash is over the content: recomputed from the stored columns, it matches.
    last = {c.name: getattr(rows[-1], c.name) for c in AuditEntry.__table__.c}
    assert entry_hash(last, rows[-1].prev_hash) == rows[-1].entry_hash
    official = auth.headers("commune_official")
    items = client.get("/api/v1/audit?limit=10", headers=official).get_json()["items"]
    assert [i["entry_hash"] for i in items] == [r.entry_hash for r in rows]
    assert items[1]["prev_hash"] == items[0]["entry_hash"]


def test_verify_audit_passes_an_intact_chain(app, client, auth, runner):
    write_some(client, auth)
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output
    assert "intact: 6 entries" in result.output and entries(app)[-1].entry_hash in result.output


def test_an_entry_edited_in_the_database_is_named(app, client, auth, runner):
    write_some(client, auth)
    target = entries(app)[3]
    sql(app, "UPDATE audit_log SET actor = 'someone_else' WHERE id = :id", id=target.id)
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert f"position 4 (audit entry id {target.id})" in result.output
    assert "does not match its hash" in result.output


def test_an_edit_that_recomputes_its_own_hash_breaks_the_next_link(app, client, auth, runner):
    write_some(client, auth)
    rows = entries(app)
    forged = {c.name: getattr(rows[1], c.name) for c in AuditEntry.__table__.c}
    forged["after"] = {"members": 9}
    new_hash = entry_hash(forged, rows[1].prev_hash)
    sql(
        app,
        "UPDATE audit_log SET after = :after, entry_hash = :h WHERE id = :id",
        after='{"members": 9}',
        h=new_hash,
        id=rows[1].id,
    )
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert f"position 3 (audit entry id {rows[2].id})" in result.output
    assert "prev_hash" in result.output


def test_a_deleted_entry_is_named(app, client, auth, runner):
    write_some(client, auth)
    rows = entries(app)
    sql(app, "DELETE FROM audit_log WHERE id = :id", id=rows[2].id)
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert "entry 3 is missing" in result.output


def test_the_last_entry_deleted_is_caught_too(app, client, auth, runner):
    write_some(client, auth)
    rows = entries(app)
    sql(app, "DELETE FROM audit_log WHERE id = :id", id=rows[-1].id)
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert "entries 6 to 6 are missing" in result.output


def test_the_audit_csv_prints_the_chain_head(app, client, auth):
    write_some(client, auth)
    resp = client.get("/api/v1/audit?format=csv", headers=auth.headers("supervisor"))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    header, body, tail = lines[0], lines[1:-1], lines[-1]
    assert len(body) == 6
    head = entries(app)[-1]
    assert tail[0] == "chain_head"
    assert tail[header.index("chain_position")] == "6"
    assert tail[header.index("entry_hash")] == head.entry_hash
    assert resp.headers["X-Audit-Chain-Head"] == f"6 {head.entry_hash}"
    assert [row[header.index("entry_hash")] for row in body][-1] == head.entry_hash


def test_concurrent_writers_extend_one_chain(app, auth, runner):
    names = [auth.user("collaborator") for _ in range(4)]
    tokens = {}
    for name in names:
        tokens[name] = (
            app.test_client()
            .post("/api/v1/auth/token", json={"username": name, "password": "correct horse battery"})
            .get_json()["access_token"]
        )
    errors = []

    def device(name):
        client = app.test_client()
        phone = Phone(client, {"Authorization": f"Bearer {tokens[name]}"})
        for i in range(5):
            phone.create("households", f.household(code=f"HH-{name[-4:]}-{i}"))
            phone.create("households", f.household(code=f"HH-{name[-4:]}-{i}b"))
            answer = phone.push()
            if statuses(answer) != ["applied", "applied"]:
                errors.append(answer)

    threads = [threading.Thread(target=device, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    rows = entries(app)
    assert [r.chain_position for r in rows] == list(range(1, 41))
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 0, result.output


def test_the_canonical_form_of_an_entry_is_fixed():
    """Chains already in databases were hashed over exactly these bytes: any change to how an
    entry is written out would make verify-audit fail on every earlier entry."""
    from datetime import UTC, datetime, timedelta, timezone

    from sync.trail import canonical

    hanoi = timezone(timedelta(hours=7))
    content = {
        "chain_position": 3,
        "at": datetime(2026, 12, 2, 13, 5, 1, 250, tzinfo=hanoi),
        "actor": "ctv_trado",
        "user_id": 7,
        "client_time": datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
        "action": "update",
        "entity": "households",
        "record_id": "6f1d9a52-3c1e-4a57-9a3e-0d6b8c1f4e21",
        "version": 2,
        "before": {"head_name": "Hồ Thị Xuân Lan", "members": 4, "tags": ("a", "b")},
        "after": {"head_name": "Hồ Thị Xuân Lan", "members": 5, "gps": [15.57, 108.47], "x": None},
        "clock_suspect": False,
        "ignored": "not a chain field",
    }
    assert canonical(content) == (
        '{"action":"update","actor":"ctv_trado","after":{"gps":[15.57,108.47],"head_name":"Hồ Thị Xuân Lan",'
        '"members":5,"x":null},"at":"2026-12-02T06:05:01.000250Z","batch_id":null,"before":{"head_name":'
        '"Hồ Thị Xuân Lan","members":4,"tags":["a","b"]},"chain_position":3,"change_id":null,'
        '"client_time":"2026-12-02T06:00:00.000000Z","clock_suspect":false,"commune_code":null,'
        '"device_id":null,"district_code":null,"entity":"households","made_after":null,"made_before":null,'
        '"record_id":"6f1d9a52-3c1e-4a57-9a3e-0d6b8c1f4e21","user_id":7,"version":2}'
    ).encode()
