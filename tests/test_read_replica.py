"""A read replica for real: the supervisors' reads on a streaming hot standby, sync on the primary.

The test makes its own primary (``initdb --auth=trust``, which lets loopback replicate; the
machine's own cluster refuses replication) and a standby of it (``pg_basebackup -R``), both
on free loopback ports, removed afterwards even on failure. A row only the standby has - made
on the primary, replicated, then deleted on the primary while the standby's replay is
paused - shows which database answered.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import upgrade

from server import create_app
from server.auth.passwords import set_test_cost
from server.cli import DATA, add_user, load_units_file
from server.config import ConfigurationError
from server.extensions import db
from server.odk.forms import list_forms
from server.replica import DATA_AS_OF
from server.store import activity as activity_store
from tests.conftest import PASSWORD
from tests.factories import household
from tests.faults import postgres_bin, standby_of, throwaway_postgres, wait_for
from tests.phones import Phone
from tests.web.pages import PageSession

SECRET = "test-secret-key-that-is-long-enough-for-hs256"
BINDIR = postgres_bin()
on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL only"
)
with_replication = pytest.mark.skipif(
    BINDIR is None or not (BINDIR / "pg_basebackup").exists(),
    reason="PostgreSQL server binaries (initdb, pg_basebackup) absent",
)
SUPERVISOR, COLLABORATOR, MARKER = "sup-replica", "ctv-replica", "ctv-only-on-the-standby"
TODAY = date.today()
YEAR = TODAY.year


def settings(tmp_path, primary_url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": primary_url,
        "SECRET_KEY": SECRET,
        "ATTACHMENT_DIR": str(tmp_path / "attachments"),
        **extra,
    }


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    """Our own primary, migrated by the app, with the units and two accounts."""
    set_test_cost()
    with throwaway_postgres() as cluster:
        setup = create_app(settings(tmp_path_factory.mktemp("primary"), cluster.url))
        with setup.app_context():
            upgrade(directory=setup.extensions["migrate"].directory)
            load_units_file(str(DATA / "quang_nam_units_2020.csv"))
            add_user(SUPERVISOR, "supervisor", "49", PASSWORD)
            add_user(COLLABORATOR, "collaborator", "20920", PASSWORD)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        yield cluster


@pytest.fixture(scope="module")
def standby(primary):
    with standby_of(primary) as cluster:
        caught_up(primary, cluster)
        yield cluster


@pytest.fixture
def make_app(primary, standby, tmp_path):
    """``make_app(max_lag)``: an app on the primary with the standby as its replica."""
    made = []

    def make(max_lag: int = 30):
        app = create_app(
            settings(tmp_path, primary.url, DATABASE_REPLICA_URL=standby.url, REPLICA_MAX_LAG=max_lag)
        )
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


def caught_up(primary, standby, replayed: bool = True) -> None:
    """Wait until the standby has received (and, if ``replayed``, replayed) all the primary wrote."""
    (lsn,) = primary.query("SELECT pg_current_wal_lsn()::text")[0]
    column = "pg_last_wal_replay_lsn()" if replayed else "pg_last_wal_receive_lsn()"
    reached = f"SELECT {column} >= %s::pg_lsn"
    assert wait_for(lambda: standby.query(reached, lsn)[0][0], timeout=30), "the standby did not catch up"


@contextmanager
def replay_paused(standby):
    standby.query("SELECT pg_wal_replay_pause()")
    assert wait_for(lambda: standby.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused")
    try:
        yield
    finally:
        standby.query("SELECT pg_wal_replay_resume()")


def bearer(client, username: str) -> dict:
    login = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    return {"Authorization": f"Bearer {login.get_json()['access_token']}"}


def collaborators_seen(client, headers) -> tuple[set[str], str | None]:
    """The activity report's collaborators, and its X-Data-As-Of (None when absent)."""
    resp = client.get("/api/v1/activity", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return {row["username"] for row in resp.get_json()["items"]}, resp.headers.get(DATA_AS_OF)


def make_marker(primary, standby, app) -> None:
    """A collaborator only the standby has: created, replicated, then deleted on the primary
    while the standby's replay is paused (the caller pauses it)."""
    with app.app_context():
        add_user(MARKER, "collaborator", "20920", PASSWORD)
        db.session.commit()
        db.session.remove()
    caught_up(primary, standby)


def delete_marker(primary) -> None:
    primary.query("DELETE FROM users WHERE username = %s", MARKER)


@on_postgres
@with_replication
def test_the_reports_read_the_standby_and_say_how_fresh_then_fall_back_when_it_lags(
    primary, standby, make_app
):
    fresh, strict = make_app(max_lag=30), make_app(max_lag=1)
    client = fresh.test_client()
    headers = bearer(client, SUPERVISOR)
    make_marker(primary, standby, fresh)
    with replay_paused(standby):
        delete_marker(primary)
        caught_up(primary, standby, replayed=False)  # received, not replayed: the standby trails
        seen, as_of = collaborators_seen(client, headers)
        assert MARKER in seen and COLLABORATOR in seen  # read on the standby
        replayed = standby.query("SELECT pg_last_xact_replay_timestamp()")[0][0]
        assert as_of is not None and datetime.fromisoformat(as_of) == replayed
        assert as_of.endswith("+00:00") and datetime.now(UTC) - replayed < timedelta(seconds=30)

        # The same state, for an app allowing one second of lag: once the standby trails by
        # more, the report reads the primary (no marker) and does not claim a replica's time.
        time.sleep(1.2)
        strict_client = strict.test_client()
        seen, as_of = collaborators_seen(strict_client, bearer(strict_client, SUPERVISOR))
        assert MARKER not in seen and COLLABORATOR in seen and as_of is None
    caught_up(primary, standby)
    seen, as_of = collaborators_seen(client, headers)
    assert MARKER not in seen and COLLABORATOR in seen and as_of is not None  # replayed: gone


@on_postgres
@with_replication
def test_every_supervisor_read_runs_on_the_standby(primary, standby, make_app):
    app = make_app()
    client = app.test_client()
    headers = bearer(client, SUPERVISOR)
    form_id = list_forms()[0].form_id
    reads = [
        f"/api/v1/reports/exit-registrations?year={YEAR}",
        f"/api/v1/reports/payouts?year={YEAR}&format=csv",
        f"/api/v1/delays?as_of={TODAY}",
        f"/api/v1/delays?as_of={TODAY}&format=xlsx",
        "/api/v1/activity",
        "/api/v1/audit",
        "/api/v1/audit?format=csv",
        "/v1/projects/1/datasets/households.svc/Entities",
        f"/v1/projects/1/forms/{form_id}.svc/Submissions",
    ]
    for path in reads:
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:300])
        assert resp.headers.get(DATA_AS_OF), path
    page = PageSession(app, SUPERVISOR)
    for path in (f"/web/downloads/exit-registrations?year={YEAR}", "/web/downloads/delays"):
        resp = page.get(path)
        assert resp.status_code == 200 and resp.headers.get(DATA_AS_OF), path
    for path in ("/web/dashboard", "/web/audit"):  # the pages say so to the person reading them
        resp = page.get(path)
        assert resp.status_code == 200 and resp.headers.get(DATA_AS_OF), path
        assert 'class="data-as-of"' in resp.get_data(as_text=True), path
    # Every other route stays on the primary and says nothing of a replica.
    for path in ("/api/v1/sync/pull", "/api/v1/units"):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200 and DATA_AS_OF not in resp.headers, path


@on_postgres
@with_replication
def test_a_push_and_the_pull_after_it_stay_on_the_primary(primary, standby, make_app):
    app = make_app()
    client = app.test_client()
    phone = Phone(client, bearer(client, COLLABORATOR))
    caught_up(primary, standby)  # the standby is fresh: only the routing keeps the sync off it
    with replay_paused(standby):
        # A standby refuses every write, and this one has stopped replaying: a push that
        # touched it would fail, a pull that read it would miss the household.
        record_id = phone.create("households", household())
        assert {r["status"] for r in phone.push()["results"]} == {"applied"}
        pulled = phone.pull()
        assert record_id in {record["id"] for record in pulled}
        on_standby = standby.query("SELECT count(*) FROM record_versions WHERE record_id = %s", record_id)
        assert on_standby == [(0,)]
    caught_up(primary, standby)
    assert standby.query("SELECT count(*) FROM record_versions WHERE record_id = %s", record_id) == [(1,)]


@on_postgres
@with_replication
def test_the_reports_fall_back_to_the_primary_while_the_standby_is_down(primary, standby, make_app):
    app = make_app()
    client = app.test_client()
    headers = bearer(client, SUPERVISOR)
    assert collaborators_seen(client, headers)[1] is not None  # the pool holds a standby connection
    standby.stop()
    try:
        started = time.monotonic()
        seen, as_of = collaborators_seen(client, headers)
        assert COLLABORATOR in seen and as_of is None
        assert time.monotonic() - started < 5
        csv = client.get("/api/v1/audit?format=csv", headers=headers)
        assert csv.status_code == 200 and DATA_AS_OF not in csv.headers
    finally:
        standby.start()
    caught_up(primary, standby)
    assert collaborators_seen(client, headers)[1] is not None  # and back on the standby


@on_postgres
@with_replication
def test_a_standby_lost_in_the_middle_of_an_answer_is_answered_again_from_the_primary(
    primary, standby, make_app, monkeypatch
):
    app = make_app()
    client = app.test_client()
    headers = bearer(client, SUPERVISOR)
    make_marker(primary, standby, app)
    with replay_paused(standby):
        delete_marker(primary)
        assert MARKER in collaborators_seen(client, headers)[0]  # the standby answers

        list_activity = activity_store.list_activity

        def cut_off(query):  # the standby's connections end after the view chose it
            standby.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'fieldsync' AND pid <> pg_backend_pid()"
            )
            return list_activity(query)

        monkeypatch.setattr(activity_store, "list_activity", cut_off)
        seen, as_of = collaborators_seen(client, headers)
        assert MARKER not in seen and COLLABORATOR in seen and as_of is None  # the primary's answer
    caught_up(primary, standby)


def test_only_the_supervisors_reads_are_marked_for_the_replica(app):
    """The routes that may read on the replica, all of them GETs; sync and writes are not."""
    marked = set()
    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        methods = {m: getattr(view_class, m.lower(), None) for m in view_class.methods} if view_class else {}
        for method, function in methods.items() or [(None, view)]:
            if getattr(function, "reads_on_replica", False):
                marked.add((endpoint, method))
    assert marked == {
        ("reports.ExitRegistrations", "GET"),
        ("reports.Payouts", "GET"),
        ("delays.Delays", "GET"),
        ("collaborators.Activity", "GET"),
        ("audit_entries.AuditTrail", "GET"),
        ("pages.download_exit_registrations", None),
        ("pages.download_payouts", None),
        ("pages.download_delays", None),
        ("pages.dashboard", None),
        ("pages.audit", None),
        ("central.datasets.odata_entities", None),
        ("central.submissions.odata_submissions", None),
    }
    for endpoint, _method in marked:
        assert app.url_map._rules_by_endpoint[endpoint][0].methods <= {"GET", "HEAD", "OPTIONS"}


def test_without_a_replica_nothing_changes(app, client, auth):
    """Unset (the default, and always on SQLite): the same routes answer, with no header."""
    headers = auth.headers("supervisor")
    resp = client.get("/api/v1/activity", headers=headers)
    assert resp.status_code == 200 and DATA_AS_OF not in resp.headers
    page = PageSession(app, auth.user("supervisor")).get("/web/dashboard")
    assert page.status_code == 200 and DATA_AS_OF not in page.headers
    assert 'class="data-as-of"' not in page.get_data(as_text=True)


def test_a_replica_needs_postgresql_on_both_sides(tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'primary.db'}"
    with pytest.raises(ConfigurationError, match="DATABASE_REPLICA_URL"):
        create_app(settings(tmp_path, sqlite, DATABASE_REPLICA_URL="postgresql://replica/fieldsync"))
