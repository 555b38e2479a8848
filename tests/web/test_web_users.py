"""The admin's accounts page, a user's own password page, and logging out for real.

An admin lists the accounts, moves a user to another role or unit, deactivates and resets
a password - each ending the user's open sessions and tokens, each in the audit trail. A
cookie copied before ``POST /web/logout`` opens nothing after it (the session is ended on the
server, not only forgotten by the browser).
"""

from __future__ import annotations

from server.extensions import db
from server.models import AuditEntry
from tests.conftest import PASSWORD
from tests.web.pages import PageSession, flashes

NEW_PASSWORD = "a brand new password"


def copy_cookies(app, source: PageSession):
    """A second browser holding the very same session cookie (stolen, or a second tab)."""
    thief = app.test_client()
    for cookie in source.client._cookies.values():
        thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief


def account_trail(app, username: str) -> list[AuditEntry]:
    with app.app_context():
        query = db.select(AuditEntry).where(AuditEntry.entity == "users", AuditEntry.record_id == username)
        return list(db.session.execute(query.order_by(AuditEntry.id)).scalars())


def test_a_cookie_copied_before_logout_is_refused_after_it(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    copy = copy_cookies(app, official)
    assert copy.get("/web/approvals").status_code == 200  # the copy works while the session lives
    assert official.post("/web/logout").status_code == 302
    after = copy.get("/web/approvals")
    assert after.status_code == 302 and "/web/login" in after.headers["Location"]
    # logging in again is a new session; the copy of the old one stays dead
    assert official.login(official.username, PASSWORD).status_code == 302
    assert official.get("/web/approvals").status_code == 200
    assert copy.get("/web/approvals").status_code == 302


def test_the_admin_lists_accounts_and_changes_a_role_and_unit(app, auth):
    admin = PageSession(app, auth.user("admin"))
    name = auth.user("collaborator")
    victim_page = PageSession(app, name)
    page = admin.get("/web/users")
    assert page.status_code == 200 and f'data-user="{name}"' in page.text
    resp = admin.post(
        f"/web/users/{name}/role", {"role": "district_officer", "unit": "515"}, follow_redirects=True
    )
    assert resp.status_code == 200 and any(name in f and "515" in f for f in flashes(resp.text))
    assert victim_page.get("/web/").status_code == 302  # the user's open page ended
    trail = account_trail(app, name)
    assert [e.action for e in trail] == ["set_role"]
    assert trail[0].actor == admin.username and trail[0].after["role"] == "district_officer"
    assert trail[0].district_code == "515"


def test_a_role_that_does_not_fit_the_unit_is_refused_and_nothing_changes(app, auth):
    admin = PageSession(app, auth.user("admin"))
    name = auth.user("collaborator")
    resp = admin.post(
        f"/web/users/{name}/role", {"role": "district_officer", "unit": "20920"}, follow_redirects=True
    )
    assert any("district" in f for f in flashes(resp.text))
    assert [e.action for e in account_trail(app, name)] == []
    assert PageSession(app, name).get("/web/").status_code == 200


def test_the_admin_deactivates_and_resets_a_password(app, auth, client):
    admin = PageSession(app, auth.user("admin"))
    name = auth.user("commune_official")
    victim = PageSession(app, name)
    admin.post(f"/web/users/{name}/password", {"password": NEW_PASSWORD})
    assert victim.get("/web/approvals").status_code == 302
    assert (
        client.post("/api/v1/auth/token", json={"username": name, "password": NEW_PASSWORD}).status_code
        == 200
    )
    admin.post(f"/web/users/{name}/active", {"active": "no"})
    assert (
        client.post("/api/v1/auth/token", json={"username": name, "password": NEW_PASSWORD}).status_code
        == 401
    )
    admin.post(f"/web/users/{name}/active", {"active": "yes"})
    assert (
        client.post("/api/v1/auth/token", json={"username": name, "password": NEW_PASSWORD}).status_code
        == 200
    )
    assert [e.action for e in account_trail(app, name)] == [
        "reset_password",
        "deactivate",
        "reactivate",
    ]
    for entry in account_trail(app, name):
        assert NEW_PASSWORD not in repr(entry.after) and "$argon2" not in repr(entry.after)


def test_the_admin_pages_refuse_a_post_without_the_csrf_token_and_other_roles(app, auth):
    admin = PageSession(app, auth.user("admin"))
    name = auth.user("collaborator")
    assert admin.post(f"/web/users/{name}/active", {"active": "no"}, csrf=False).status_code == 400
    official = PageSession(app, auth.user("commune_official"))
    assert official.post(f"/web/users/{name}/active", {"active": "no"}).status_code == 403
    assert official.get("/web/users").status_code == 403
    assert PageSession(app, name).get("/web/").status_code == 200  # still active


def test_an_admin_cannot_lock_themselves_out(app, auth):
    admin = PageSession(app, auth.user("admin"))
    admin.post(f"/web/users/{admin.username}/active", {"active": "no"})
    admin.post(f"/web/users/{admin.username}/role", {"role": "supervisor", "unit": "49"})
    assert admin.get("/web/users").status_code == 200


def test_a_user_changes_their_own_password_and_stays_signed_in(app, auth, client):
    name = auth.user("collaborator")
    me, elsewhere = PageSession(app, name), PageSession(app, name)
    wrong = me.post(
        "/web/password",
        {"current_password": "nope", "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    resp = me.post(
        "/web/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
    )
    assert resp.status_code == 302
    assert me.get("/web/").status_code == 200  # this browser got a new session
    assert elsewhere.get("/web/").status_code == 302  # the other one ended
    assert (
        client.post("/api/v1/auth/token", json={"username": name, "password": NEW_PASSWORD}).status_code
        == 200
    )
    assert [e.action for e in account_trail(app, name)] == ["change_password"]


def test_the_pages_speak_english_too(app, auth):
    admin = PageSession(app, auth.user("admin"))
    assert "Tài khoản người dùng" in admin.get("/web/users").text
    assert "User accounts" in admin.get("/web/users?lang=en").text
