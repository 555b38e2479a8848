"""Faults in the field: a worker killed mid-batch, the database restarted, read-only or full.

Whatever breaks, a phone is told either the committed result of its whole batch or an error
in the envelope (503 with Retry-After: send it again); a re-sent batch applies every change
exactly once; the app recovers by itself when the database comes back.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import event, func, select

from server import create_app
from server.cli import DATA, add_user, load_units_file
from server.extensions import db
from server.models import AppliedChange, RecordVersion, SyncBatch
from tests.conftest import PASSWORD
from tests.factories import household
from tests.faults import postgres_bin, throwaway_postgres, wait_for
from tests.phones import Phone, change
from tests.servers import ROOT, gunicorn, http

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def batch_of(n: int) -> dict:
    return {
        "device_id": "phone-fault",
        "batch_id": str(uuid.uuid4()),
        "changes": [change("households", str(uuid.uuid4()), household(), None) for _ in range(n)],
    }


def assert_applied_exactly_once(app, batch: dict) -> None:
    change_ids = [c["change_id"] for c in batch["changes"]]
    record_ids = [c["id"] for c in batch["changes"]]
    with app.app_context():
        ledger = db.session.execute(
            select(AppliedChange.change_id).where(AppliedChange.change_id.in_(change_ids))
        ).scalars()
        assert sorted(ledger) == sorted(change_ids)
        versions = db.session.execute(
            select(RecordVersion.record_id, RecordVersion.version).where(
                RecordVersion.record_id.in_(record_ids)
            )
        ).all()
        assert sorted(versions) == sorted((rid, 1) for rid in record_ids)
        batches = db.session.execute(
            select(func.count()).select_from(SyncBatch).where(SyncBatch.batch_id == batch["batch_id"])
        ).scalar_one()
        assert batches == 1


# -- a worker SIGKILLed in the middle of a batch ------------------------------------------------------
@pytest.mark.slow
def test_a_worker_killed_mid_batch_commits_nothing_and_the_resent_batch_applies_once(app, auth, tmp_path):
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    marker = tmp_path / "paused-worker"
    batch = batch_of(200)
    args = ("-c", str(ROOT / "tests" / "gunicorn_pause.py"))
    with gunicorn(app, workers=2, extra_args=args, FIELDSYNC_PAUSE_FILE=str(marker)) as base:
        lost: list[object] = []

        def send() -> None:
            try:
                lost.append(http("POST", f"{base}/api/v1/sync/push", batch, token))
            except (OSError, urllib.error.URLError) as exc:  # the connection dies with the worker
                lost.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        # The worker has applied and flushed all 200 changes and waits before COMMIT.
        assert wait_for(marker.exists, timeout=60), "no worker reached the commit of the push"
        os.kill(int(marker.read_text()), signal.SIGKILL)
        sender.join(60)
        assert lost and not (isinstance(lost[0], tuple) and lost[0][0] == 200), lost  # never a 200

        with app.app_context():  # nothing of the batch is visible
            stored = db.session.execute(select(func.count()).select_from(RecordVersion)).scalar_one()
            db.session.remove()
        assert stored == 0
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
            with sqlite3.connect(path) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        # The phone never got an answer, so it sends the same batch again (to a new worker).
        status, body = http("POST", f"{base}/api/v1/sync/push", batch, token)
        assert status == 200, body
        assert {r["status"] for r in body["results"]} == {"applied"}
        again = http("POST", f"{base}/api/v1/sync/push", batch, token)
        assert again == (200, body)
    assert_applied_exactly_once(app, batch)


# -- read-only and full databases -----------------------------------------------------------------------
def read_only_app(app):
    """A second app on the same database whose connections may not write."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    config = {"TESTING": True, "SECRET_KEY": SECRET, "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"]}
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///")).resolve()
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        config["SQLALCHEMY_DATABASE_URI"] = url
    broken = create_app(config)
    if not url.startswith("sqlite"):
        with broken.app_context():

            @event.listens_for(db.engine, "connect")
            def read_only(dbapi_connection, _record):  # as on a standby after failover
                cur = dbapi_connection.cursor()
                cur.execute("SET default_transaction_read_only = on")
                cur.close()
                dbapi_connection.commit()

    return broken


def test_a_read_only_database_answers_503_in_the_envelope_and_reads_go_on(app, client, auth):
    name = auth.user("collaborator")
    headers = auth.headers(username=name)
    phone = Phone(client, headers)
    phone.create("households", household())
    phone.sync()
    broken = read_only_app(app).test_client()
    stuck = Phone(broken, headers)
    stuck.create("households", household())
    resp = broken.post(
        "/api/v1/sync/push",
        json={"device_id": stuck.device_id, "batch_id": str(uuid.uuid4()), "changes": stuck.outbox},
        headers=headers,
    )
    assert resp.status_code == 503, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] in ("retry", "unavailable") and int(resp.headers["Retry-After"]) > 0
    assert "Traceback" not in resp.get_data(as_text=True)
    # logging in writes too (the token family): refused the same way, not a 500
    login = broken.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert login.status_code == 503 and set(login.get_json()) == {"error"}
    # reads keep working while the disk cannot take writes
    assert broken.get("/api/v1/sync/pull", headers=headers).status_code == 200
    with broken.application.app_context():
        db.engine.dispose()


def test_a_full_disk_answers_503_and_nothing_half_written_remains(app, tmp_path):
    """SQLite's own "database or disk is full", made by capping the file at its current size."""
    path = tmp_path / "full.db"
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "SECRET_KEY": SECRET,
        "ATTACHMENT_DIR": str(tmp_path / "attachments"),
    }
    small = create_app(config)
    with small.app_context():
        upgrade(directory=small.extensions["migrate"].directory)
        load_units_file(str(DATA / "quang_nam_units_2020.csv"))
        add_user("ctv-full", "collaborator", "20920", PASSWORD)
        db.session.commit()
        client = small.test_client()
        token = client.post("/api/v1/auth/token", json={"username": "ctv-full", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
        db.session.remove()
        db.engine.dispose()  # the last connection out checkpoints the WAL into the file
        with sqlite3.connect(path) as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]

        @event.listens_for(db.engine, "connect")
        def cap(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    batch = batch_of(300)
    resp = client.post("/api/v1/sync/push", json=batch, headers=headers)
    assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["error"]["code"] in ("retry", "unavailable") and resp.headers["Retry-After"]
    with small.app_context():
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM record_versions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM applied_changes").fetchone()[0] == 0


# -- PostgreSQL restarted under a running app -------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server binaries (initdb, pg_ctl) absent")
def test_the_app_rides_out_a_postgresql_restart_without_being_restarted(tmp_path):
    with throwaway_postgres() as cluster:
        own = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": cluster.url,
                "SECRET_KEY": SECRET,
                "ATTACHMENT_DIR": str(tmp_path / "attachments"),
            }
        )
        with own.app_context():
            upgrade(directory=own.extensions["migrate"].directory)
            load_units_file(str(DATA / "quang_nam_units_2020.csv"))
            add_user("ctv-restart", "collaborator", "20920", PASSWORD)
            db.session.commit()
            db.session.remove()
        client = own.test_client()
        login = client.post("/api/v1/auth/token", json={"username": "ctv-restart", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        phone = Phone(client, headers)
        phone.create("households", household())
        phone.sync()  # the pool now holds connections to the server about to go away

        cluster.stop()
        batch = batch_of(5)
        down = client.post("/api/v1/sync/push", json=batch, headers=headers)
        assert down.status_code == 503, down.get_data(as_text=True)[:300]
        assert set(down.get_json()) == {"error"} and down.headers["Retry-After"]
        pulled = client.get("/api/v1/sync/pull", headers=headers)
        assert pulled.status_code == 503 and pulled.get_json()["error"]["code"] == "unavailable"

        cluster.start()
        # Same app object, same pool: the stale connections are replaced on first use.
        back = client.post("/api/v1/sync/push", json=batch, headers=headers)
        assert back.status_code == 200, back.get_data(as_text=True)[:300]
        assert {r["status"] for r in back.get_json()["results"]} == {"applied"}
        assert client.get("/api/v1/sync/pull", headers=headers).status_code == 200
        assert_applied_exactly_once(own, batch)

        cluster.restart()  # and once more with the pool warm, no request in between
        phone.create("households", household())
        assert phone.sync()["results"][0]["status"] == "applied"
        with own.app_context():
            db.engine.dispose()
