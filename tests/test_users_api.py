"""The admin API for accounts, and a user's own password change, as their clients meet them."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_an_admin_creates_an_account_that_logs_in(client, auth):
    admin = auth.headers("admin")
    body = {"username": "ctv_tra_giac", "role": "collaborator", "unit": "20920", "password": "mật khẩu dài"}
    resp = client.post("/api/v1/users", json={**body, "display_name": "Hồ Văn A"}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["unit"] == "20920" and "password" not in resp.get_json()
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "ctv_tra_giac", "password": "mật khẩu dài"}
        ).status_code
        == 200
    )
    again = client.post("/api/v1/users", json=body, headers=admin)
    assert again.status_code == 422 and "username" in again.get_json()["error"]["details"]


def test_placement_and_password_rules_are_the_command_lines(client, auth):
    admin = auth.headers("admin")
    base = {"username": "x1", "role": "collaborator", "unit": "20920", "password": "long enough"}
    for change, field in (
        ({"unit": "515"}, "unit"),
        ({"role": "district_officer"}, "unit"),
        ({"unit": "99999"}, "unit"),
        ({"password": "short"}, "password"),
        ({"role": "king"}, "role"),
    ):
        resp = client.post("/api/v1/users", json={**base, **change}, headers=admin)
        assert resp.status_code == 422, change
        assert field in resp.get_json()["error"]["details"], resp.get_json()
    name = auth.user("collaborator")
    moved = client.patch(f"/api/v1/users/{name}", json={"role": "supervisor"}, headers=admin)
    assert moved.status_code == 422 and "unit" in moved.get_json()["error"]["details"]
    assert client.patch(f"/api/v1/users/{name}", json={"active": "maybe"}, headers=admin).status_code == 422
    assert client.patch(f"/api/v1/users/{name}", json={"password": "x"}, headers=admin).status_code == 422


def test_an_unknown_user_is_404(client, auth):
    admin = auth.headers("admin")
    assert client.get("/api/v1/users/nobody", headers=admin).status_code == 404
    assert client.patch("/api/v1/users/nobody", json={"active": False}, headers=admin).status_code == 404
    resp = client.post("/api/v1/users/nobody/password", json={"password": "long enough"}, headers=admin)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_an_admin_cannot_demote_or_deactivate_themselves(client, auth):
    name = auth.user("admin")
    headers = auth.headers(username=name)
    for change in ({"active": False}, {"role": "supervisor"}):
        resp = client.patch(f"/api/v1/users/{name}", json=change, headers=headers)
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "conflict"
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_every_account_act_is_in_the_audit_trail_without_the_password(client, auth, runner):
    admin = auth.headers("admin")
    name = auth.user("collaborator")
    client.patch(f"/api/v1/users/{name}", json={"unit": "20335"}, headers=admin)
    client.post(f"/api/v1/users/{name}/password", json={"password": "a secret one"}, headers=admin)
    runner.invoke(args=["deactivate-user", name])
    trail = client.get(f"/api/v1/audit?entity=users&id={name}", headers=admin).get_json()["items"]
    assert [(e["action"], e["device_id"]) for e in trail] == [
        ("set_role", "api"),
        ("reset_password", "api"),
        ("deactivate", "cli"),
    ]
    assert trail[0]["before"]["unit"] == "20920" and trail[0]["after"]["unit"] == "20335"
    assert trail[0]["after"]["token_generation"] == trail[0]["before"]["token_generation"] + 1
    assert "a secret one" not in str(trail) and "argon2" not in str(trail)
    # the trail is scoped like any other: the new commune's official sees the account's entries
    official = auth.headers("commune_official", unit="20335")
    seen = client.get(f"/api/v1/audit?entity=users&id={name}", headers=official).get_json()["items"]
    assert [e["action"] for e in seen] == ["set_role", "reset_password", "deactivate"]


def test_a_user_changes_their_own_password_with_the_current_one(client, auth):
    name = auth.user("collaborator")
    headers = auth.headers(username=name)
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "nope", "new_password": "long enough"},
        headers=headers,
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"
    short = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert short.status_code == 422 and "new_password" in short.get_json()["error"]["details"]
    # nothing changed so far: the token still works, the old password still logs in
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    ok = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "long enough"},
        headers=headers,
    )
    assert ok.status_code == 200 and set(ok.get_json()) >= {"access_token", "refresh_token"}


def test_guessing_the_current_password_is_throttled(app, client, auth):
    name = auth.user("collaborator")
    headers = auth.headers(username=name)
    body = {"current_password": "nope", "new_password": "long enough"}
    statuses = [
        client.post("/api/v1/auth/password", json=body, headers=headers).status_code for _ in range(6)
    ]
    assert statuses == [401] * app.config["LOGIN_MAX_FAILURES"] + [429]


def test_the_commands_refuse_unknown_users_and_bad_roles(runner, auth):
    assert "does not exist" in runner.invoke(args=["set-password", "nobody"], input="long enough\n").output
    name = auth.user("collaborator")
    result = runner.invoke(args=["set-role", name, "--role", "district_officer"])
    assert result.exit_code != 0 and "district" in result.output
    assert runner.invoke(args=["set-password", name], input="short\n").exit_code != 0
    assert (
        runner.invoke(args=["deactivate-user", name, "--reactivate"])
        .output.strip()
        .endswith("already active")
    )
