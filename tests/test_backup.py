"""``flask --app wsgi backup DEST``: a live SQLite backup that restores to a working server.

These tests always run on a SQLite file of their own (the backup command is for the SQLite
default), whatever ``DATABASE_URL`` the rest of the suite uses.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import uuid

import pytest
from flask_migrate import upgrade

from server import create_app
from server.cli import DATA, add_user, load_units_file
from server.extensions import db
from tests.conftest import PASSWORD
from tests.factories import household
from tests.phones import Phone

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def sqlite_app(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": SECRET,
            "ATTACHMENT_DIR": str(path.parent / "attachments"),
        }
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A SQLite server with its schema, the units and one collaborator."""
    folder = tmp_path_factory.mktemp("live")
    app = sqlite_app(folder / "fieldsync.db")
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_units_file(str(DATA / "quang_nam_units_2020.csv"))
        add_user("ctv-backup", "collaborator", "20920", PASSWORD)
        db.session.commit()
    return app


def login(client) -> dict:
    resp = client.post("/api/v1/auth/token", json={"username": "ctv-backup", "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


class Writer(threading.Thread):
    """A phone pushing batches of new households until told to stop; remembers what was acknowledged."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.stop = app, threading.Event()
        self.acknowledged: list[str] = []
        self.sent: list[str] = []
        self.lock = threading.Lock()
        self.failure: str | None = None

    def run(self) -> None:
        client = self.app.test_client()
        phone = Phone(client, login(client))
        while not self.stop.is_set():
            ids = [phone.create("households", household()) for _ in range(5)]
            with self.lock:
                self.sent.extend(ids)
            resp = client.post(
                "/api/v1/sync/push",
                json={"device_id": phone.device_id, "batch_id": str(uuid.uuid4()), "changes": phone.outbox},
                headers=phone.headers,
            )
            phone.outbox = []
            if resp.status_code != 200:
                self.failure = f"{resp.status_code} {resp.get_data(as_text=True)}"
                return
            with self.lock:
                self.acknowledged.extend(ids)

    def snapshot(self) -> set[str]:
        with self.lock:
            return set(self.acknowledged)

    def wait_for(self, count: int) -> None:
        while len(self.snapshot()) < count and self.is_alive():
            self.stop.wait(0.01)


def pulled_ids(app) -> set[str]:
    client = app.test_client()
    phone = Phone(client, login(client))
    return {r["id"] for r in phone.pull() if r["entity"] == "households"}


def test_a_backup_taken_while_phones_push_restores_to_a_working_server(live, tmp_path):
    writer = Writer(live)
    writer.start()
    backups = []
    try:
        for round_ in range(3):
            writer.wait_for(10 * (round_ + 1))
            before = writer.snapshot()
            dest = tmp_path / f"backup-{round_}.db"
            result = live.test_cli_runner().invoke(args=["backup", str(dest)])
            assert result.exit_code == 0, result.output
            assert "backed up" in result.output
            backups.append((dest, before))
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert writer.failure is None, writer.failure
    sent = set(writer.sent)

    for dest, acknowledged_before in backups:
        with sqlite3.connect(dest) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Restore: the backup file becomes a new server's database, as the README says.
        restored_db = tmp_path / f"restored-{dest.stem}" / "fieldsync.db"
        restored_db.parent.mkdir()
        shutil.copy(dest, restored_db)
        restored = sqlite_app(restored_db)
        ids = pulled_ids(restored)
        # Everything acknowledged before the backup began is in it; nothing that was never sent is.
        assert acknowledged_before <= ids
        assert ids <= sent
        with restored.app_context():
            versions = db.session.execute(db.text("SELECT count(*) FROM record_versions")).scalar_one()
            applied = db.session.execute(db.text("SELECT count(*) FROM applied_changes")).scalar_one()
            indexed = db.session.execute(db.text("SELECT count(*) FROM sync_index")).scalar_one()
        # One household per change: every version has its ledger row and its feed entry.
        assert versions == applied == indexed == len(ids)
        # The restored server takes new work.
        client = restored.test_client()
        phone = Phone(client, login(client))
        phone.create("households", household())
        assert phone.push()["results"][0]["status"] == "applied"
        db_engine_dispose(restored)


def db_engine_dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def test_backup_into_a_folder_names_the_file_and_never_overwrites(live, tmp_path):
    runner = live.test_cli_runner()
    first = runner.invoke(args=["backup", str(tmp_path)])
    assert first.exit_code == 0, first.output
    made = [p for p in tmp_path.iterdir() if p.name.startswith("fieldsync-") and p.suffix == ".db"]
    assert len(made) == 1
    size = made[0].stat().st_size
    again = runner.invoke(args=["backup", str(made[0])])
    assert again.exit_code != 0 and "already exists" in again.output
    assert made[0].stat().st_size == size
    assert not list(tmp_path.glob(".*partial"))


def test_backup_refuses_postgresql_and_points_at_pg_dump(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/nowhere",
            "SECRET_KEY": SECRET,
        }
    )
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.db")])
    assert result.exit_code != 0
    assert "pg_dump" in result.output
    assert not (tmp_path / "x.db").exists()


def test_restore_keeps_phones_that_pulled_after_the_backup_in_step(live, tmp_path):
    backup_file = tmp_path / "nightly.db"
    assert live.test_cli_runner().invoke(args=["backup", str(backup_file)]).exit_code == 0
    client = live.test_client()
    ahead = Phone(client, login(client))
    ahead.create("households", household())
    ahead.sync()  # its cursor is now past anything the backup holds; then the disk dies

    restored = sqlite_app(tmp_path / "new-disk" / "fieldsync.db")
    result = restored.test_cli_runner().invoke(args=["restore", str(backup_file)])
    assert result.exit_code == 0, result.output
    other_client = restored.test_client()
    other = Phone(other_client, login(other_client))
    fresh = other.create("households", household(head_name="Alăng Thị Ngân"))
    other.push()
    ahead.client = other_client
    assert fresh in {r["id"] for r in ahead.pull()}
    db_engine_dispose(restored)


def test_restore_refuses_a_damaged_backup_and_changes_nothing(live, tmp_path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50 + b"garbage" * 200)
    restored = sqlite_app(tmp_path / "current" / "fieldsync.db")
    with restored.app_context():
        upgrade(directory=restored.extensions["migrate"].directory)
    db_engine_dispose(restored)  # checkpoint the WAL: the file alone is the database
    before = (tmp_path / "current" / "fieldsync.db").read_bytes()
    result = restored.test_cli_runner().invoke(args=["restore", str(damaged)])
    assert result.exit_code != 0 and "integrity" in result.output
    assert (tmp_path / "current" / "fieldsync.db").read_bytes() == before
    db_engine_dispose(restored)
