"""A password change, a reset, a new role or unit, a deactivation: every older credential ends.

A phone is stolen, a collaborator moves to another commune, an official leaves: whatever the
user held before - access tokens, refresh tokens (the whole family), ODK session tokens
(pyodk's ``POST /v1/sessions``) and page sessions - is refused afterwards, on every route,
whichever way the change was made (the user, the admin API, the command line).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import PASSWORD
from tests.web.pages import PageSession

NEW_PASSWORD = "a brand new password"


@dataclass
class Credentials:
    """Everything a user can hold, taken before the change."""

    access: str
    refresh: str
    odk_session: str
    page: PageSession


def take_credentials(app, client, auth, username: str) -> Credentials:
    pair = auth.tokens(username)
    session = client.post("/v1/sessions", json={"email": username, "password": PASSWORD})
    assert session.status_code == 200
    return Credentials(
        pair["access_token"], pair["refresh_token"], session.get_json()["token"], PageSession(app, username)
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_all_refused(client, held: Credentials) -> None:
    for path in ("/api/v1/auth/me", "/api/v1/sync/pull", "/api/v1/households"):
        resp = client.get(path, headers=bearer(held.access))
        assert resp.status_code == 401, (path, resp.get_json())
        assert resp.get_json()["error"]["code"] == "unauthorized"
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": held.refresh})
    assert refreshed.status_code == 401
    for path in ("/v1/users/current", "/v1/projects/1/forms"):
        assert client.get(path, headers=bearer(held.odk_session)).status_code == 401
    page = held.page.get("/web/")
    assert page.status_code == 302 and "/web/login" in page.headers["Location"]


def assert_all_work(client, held: Credentials) -> None:
    assert client.get("/api/v1/auth/me", headers=bearer(held.access)).status_code == 200
    assert client.get("/v1/users/current", headers=bearer(held.odk_session)).status_code == 200
    assert held.page.get("/web/").status_code == 200


def own_change(app, client, auth, runner, username):
    resp = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth.headers(username=username),
    )
    assert resp.status_code == 200, resp.get_json()
    # the answer is a new login, which works
    assert client.get("/api/v1/auth/me", headers=bearer(resp.get_json()["access_token"])).status_code == 200


def admin_reset(app, client, auth, runner, username):
    resp = client.post(
        f"/api/v1/users/{username}/password", json={"password": NEW_PASSWORD}, headers=auth.headers("admin")
    )
    assert resp.status_code == 204, resp.get_json()


def command_line_reset(app, client, auth, runner, username):
    result = runner.invoke(args=["set-password", username], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output


def admin_role_change(app, client, auth, runner, username):
    resp = client.patch(
        f"/api/v1/users/{username}", json={"role": "commune_official"}, headers=auth.headers("admin")
    )
    assert resp.status_code == 200 and resp.get_json()["role"] == "commune_official"


def admin_unit_change(app, client, auth, runner, username):
    resp = client.patch(f"/api/v1/users/{username}", json={"unit": "20335"}, headers=auth.headers("admin"))
    assert resp.status_code == 200 and resp.get_json()["unit"] == "20335"


def command_line_role_change(app, client, auth, runner, username):
    result = runner.invoke(args=["set-role", username, "--role", "district_officer", "--unit", "515"])
    assert result.exit_code == 0, result.output


def command_line_deactivation(app, client, auth, runner, username):
    assert runner.invoke(args=["deactivate-user", username]).exit_code == 0


def admin_deactivation(app, client, auth, runner, username):
    resp = client.patch(f"/api/v1/users/{username}", json={"active": False}, headers=auth.headers("admin"))
    assert resp.status_code == 200 and resp.get_json()["active"] is False


EVENTS = {
    "own password change": own_change,
    "admin password reset": admin_reset,
    "command-line password reset": command_line_reset,
    "admin role change": admin_role_change,
    "admin unit change": admin_unit_change,
    "command-line role change": command_line_role_change,
    "command-line deactivation": command_line_deactivation,
    "admin deactivation": admin_deactivation,
}


@pytest.mark.parametrize("event", list(EVENTS))
def test_every_credential_issued_before_the_change_is_refused_after_it(app, client, auth, runner, event):
    username = auth.user("collaborator")
    held = take_credentials(app, client, auth, username)
    assert_all_work(client, held)
    EVENTS[event](app, client, auth, runner, username)
    assert_all_refused(client, held)


@pytest.mark.parametrize("event", ["admin password reset", "admin role change", "admin unit change"])
def test_after_the_change_a_new_login_works(app, client, auth, runner, event):
    username = auth.user("collaborator")
    take_credentials(app, client, auth, username)
    EVENTS[event](app, client, auth, runner, username)
    password = NEW_PASSWORD if "password" in event else PASSWORD
    pair = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert pair.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(pair.get_json()["access_token"])).status_code == 200
    if "password" in event:
        old = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert old.status_code == 401


def test_a_refresh_after_the_change_revokes_the_family(app, client, auth, runner):
    """The refused refresh token takes its whole family with it: its later tokens die too."""
    username = auth.user("collaborator")
    first = auth.tokens(username)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).get_json()
    admin_reset(app, client, auth, runner, username)
    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refused.status_code == 401 and refused.get_json()["error"]["details"] == {"revoked": True}


def test_a_display_name_change_ends_nothing(app, client, auth):
    username = auth.user("collaborator")
    headers = auth.headers(username=username)
    resp = client.patch(
        f"/api/v1/users/{username}", json={"display_name": "Hồ Thị Lan"}, headers=auth.headers("admin")
    )
    assert resp.status_code == 200 and resp.get_json()["display_name"] == "Hồ Thị Lan"
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
