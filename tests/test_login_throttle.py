"""Throttling stops guessing without locking out a commune that shares one address.

A commune office behind NAT, or every phone of a carrier behind one address: twenty wrong
passwords for one user from that address must not stop the other users there. The lock is
per (user, address), plus a back-off per user from any address. The address is the peer's,
unless the peer is a proxy named in ``TRUSTED_PROXIES`` - then its ``X-Forwarded-For``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import create_app
from server.auth.logins import BACKOFF_FIRST
from server.clock import utcnow
from server.extensions import db
from server.models import LoginFailure
from server.store.accounts import record_failure
from tests.conftest import PASSWORD
from tests.web.pages import token_in

SHARED = "203.0.113.9"  # the commune office's NAT


def login(client, username: str, password: str, address: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def web_login(client, username: str, password: str, address: str):
    page = client.get("/web/login", environ_base={"REMOTE_ADDR": address})
    form = {"username": username, "password": password, "csrf_token": token_in(page.text)}
    return client.post("/web/login", data=form, environ_base={"REMOTE_ADDR": address})


def recorded_addresses(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(db.select(LoginFailure.address)).scalars())


def backdate_failures(app, username: str, seconds: int) -> None:
    with app.app_context():
        db.session.execute(
            db.update(LoginFailure)
            .where(LoginFailure.username == username)
            .values(at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def test_twenty_failures_for_one_user_do_not_lock_another_user_at_that_address(app, client, auth):
    guessed, colleague = auth.user("collaborator"), auth.user("commune_official")
    statuses = [login(client, guessed, "wrong", SHARED).status_code for _ in range(20)]
    assert statuses == [401] * app.config["LOGIN_MAX_FAILURES"] + [429] * 15
    assert login(client, colleague, PASSWORD, SHARED).status_code == 200
    # the web login page and an ODK Basic login at the same address too
    assert web_login(app.test_client(), colleague, PASSWORD, SHARED).status_code == 302
    odk = client.get("/v1/users/current", auth=(colleague, PASSWORD), environ_base={"REMOTE_ADDR": SHARED})
    assert odk.status_code == 200
    # and the guessed user is still locked there
    assert login(client, guessed, PASSWORD, SHARED).status_code == 429


def test_many_usernames_guessed_from_one_address_lock_none_of_the_others(app, client, auth):
    colleague = auth.user("collaborator")
    for i in range(30):
        assert login(client, f"guess-{i}", "wrong", SHARED).status_code == 401
    assert login(client, colleague, PASSWORD, SHARED).status_code == 200


def test_the_guessed_user_waits_a_back_off_elsewhere_not_the_whole_window(app, client, auth):
    name = auth.user("collaborator")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, name, "wrong", SHARED)
    elsewhere = login(client, name, PASSWORD, "198.51.100.20")
    assert elsewhere.status_code == 429
    assert 0 < int(elsewhere.headers["Retry-After"]) <= BACKOFF_FIRST
    backdate_failures(app, name, BACKOFF_FIRST + 1)
    assert login(client, name, PASSWORD, "198.51.100.20").status_code == 200
    # the address that guessed stays locked for the window
    blocked = login(client, name, PASSWORD, SHARED)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > app.config["LOGIN_FAILURE_WINDOW"] - BACKOFF_FIRST - 60


def test_guesses_spread_over_many_addresses_back_off_exponentially(app, client, auth):
    name = auth.user("collaborator")
    limit = app.config["LOGIN_MAX_FAILURES"]
    with app.app_context():
        for i in range(limit + 3):
            record_failure(name, f"192.0.2.{i + 1}", utcnow() - timedelta(seconds=30))
        db.session.commit()
    resp = login(client, name, PASSWORD, "192.0.2.200")
    assert resp.status_code == 429
    # 3 failures past the limit: 15 s doubled three times = 120 s after the latest failure
    assert int(resp.headers["Retry-After"]) == pytest.approx(BACKOFF_FIRST * 2**3 - 30, abs=2)


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(app, client, auth):
    name = auth.user("collaborator")
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, name, "wrong", SHARED, forwarded=f"198.51.100.{i}").status_code == 401
    assert recorded_addresses(app) == {SHARED}
    assert login(client, name, PASSWORD, SHARED, forwarded="198.51.100.99").status_code == 429


@pytest.fixture
def proxied_client(app, tmp_path, monkeypatch):
    """The same database behind a proxy at 10.0.0.1, named in TRUSTED_PROXIES."""
    monkeypatch.setenv("FIELDSYNC_INSTANCE", str(tmp_path))
    behind = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
            "TRUSTED_PROXIES": "10.0.0.0/24, 127.0.0.2",
        }
    )
    yield behind.test_client()
    with behind.app_context():
        db.session.remove()
        db.engine.dispose()


def test_x_forwarded_for_from_a_trusted_proxy_is_honoured(app, proxied_client, auth):
    guessed, colleague = auth.user("collaborator"), auth.user("collaborator")
    proxy = "10.0.0.1"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        # a client's own forged entry comes first; the proxy appends the peer it saw
        resp = login(proxied_client, guessed, "wrong", proxy, forwarded="6.6.6.6, 198.51.100.7")
        assert resp.status_code == 401
    assert recorded_addresses(app) == {"198.51.100.7"}
    assert login(proxied_client, guessed, PASSWORD, proxy, forwarded="198.51.100.7").status_code == 429
    # the proxy's other clients are other addresses, and the proxy itself is never locked
    assert login(proxied_client, colleague, PASSWORD, proxy, forwarded="198.51.100.8").status_code == 200


def test_a_bad_trusted_proxies_setting_stops_the_server(tmp_path, monkeypatch):
    from server.config import ConfigurationError

    monkeypatch.setenv("FIELDSYNC_INSTANCE", str(tmp_path))
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        create_app({"TESTING": True, "SECRET_KEY": "x" * 40, "TRUSTED_PROXIES": "10.0.0.0/33"})
