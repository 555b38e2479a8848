"""Who gets into which page: login, the session cookie, CSRF, roles, scope and error pages."""

from __future__ import annotations

from server import create_app
from tests.factories import household, registration
from tests.web.pages import PageSession, seed, token_in


def test_the_login_page_speaks_vietnamese_first_and_english_on_request(client):
    page = client.get("/web/login")
    assert page.status_code == 200 and '<html lang="vi">' in page.text and "Đăng nhập" in page.text
    english = client.get("/web/login?lang=en")
    assert "Log in" in english.text and "lang=en" in english.headers["Set-Cookie"]
    # the cookie keeps English on the next page
    assert "Log in" in client.get("/web/login").text


def test_a_visitor_is_sent_to_the_login_page_and_back(app, auth):
    name = auth.user("commune_official")
    browser = app.test_client()
    resp = browser.get("/web/approvals")
    assert resp.status_code == 302 and "/web/login?next=/web/approvals" in resp.headers["Location"]
    page = browser.get(resp.headers["Location"])
    logged = browser.post(
        "/web/login",
        data={
            "username": name,
            "password": "correct horse battery",
            "csrf_token": token_in(page.text),
            "next": "/web/approvals",
        },
    )
    assert logged.status_code == 302 and logged.headers["Location"] == "/web/approvals"
    assert browser.get("/web/approvals").status_code == 200


def test_login_never_redirects_to_another_site(app, auth):
    name = auth.user("commune_official")
    for target in ("https://evil.example/", "//evil.example/web/", "/web/\\evil"):
        browser = app.test_client()
        page = browser.get("/web/login")
        resp = browser.post(
            "/web/login",
            data={
                "username": name,
                "password": "correct horse battery",
                "csrf_token": token_in(page.text),
                "next": target,
            },
        )
        assert resp.headers["Location"] == "/web/", target


def test_the_session_cookie_is_httponly_and_samesite_lax(app, auth):
    name = auth.user("supervisor")
    browser = app.test_client()
    page = browser.get("/web/login")
    resp = browser.post(
        "/web/login",
        data={"username": name, "password": "correct horse battery", "csrf_token": token_in(page.text)},
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_secure_in_production(app, tmp_path, monkeypatch):
    monkeypatch.delenv("FIELDSYNC_ENV", raising=False)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    production = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x" * 64}
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    resp = production.test_client().get("/web/login")
    assert "Secure" in resp.headers["Set-Cookie"]
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "no")  # an office serving plain HTTP on its network
    lan = create_app(
        {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "x" * 64}
    )
    assert lan.config["SESSION_COOKIE_SECURE"] is False


def test_a_wrong_password_is_refused_on_the_page(app, auth):
    name = auth.user("commune_official")
    browser = app.test_client()
    page = browser.get("/web/login")
    resp = browser.post(
        "/web/login", data={"username": name, "password": "wrong", "csrf_token": token_in(page.text)}
    )
    assert resp.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in resp.text
    assert browser.get("/web/approvals").status_code == 302


def test_failures_on_the_page_count_against_the_api_login_too(app, client, auth):
    name = auth.user("collaborator")
    browser = app.test_client()
    token = token_in(browser.get("/web/login").text)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        browser.post("/web/login", data={"username": name, "password": "wrong", "csrf_token": token})
    throttled = browser.post(
        "/web/login", data={"username": name, "password": "correct horse battery", "csrf_token": token}
    )
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    api = client.post("/api/v1/auth/token", json={"username": name, "password": "correct horse battery"})
    assert api.status_code == 429


def test_a_post_without_the_csrf_token_is_refused(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    hh = seed(app, "households", household())
    reg = seed(app, "registrations", registration(hh))
    url = f"/web/registrations/{reg}/decision"
    for data, csrf in (
        ({"decision": "approve", "version": "1"}, False),
        ({"decision": "approve", "version": "1", "csrf_token": "forged"}, False),
    ):
        resp = official.post(url, data, csrf=csrf)
        assert resp.status_code == 400 and 'data-error-code="csrf_failed"' in resp.text
    page = official.get(f"/web/registrations/{reg}")
    assert "Chờ duyệt" in page.text  # still submitted
    # the login form is protected as well (login CSRF)
    fresh = app.test_client()
    resp = fresh.post("/web/login", data={"username": "x", "password": "y"})
    assert resp.status_code == 400


def test_logging_out_ends_the_page_session(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    assert official.get("/web/approvals").status_code == 200
    assert official.post("/web/logout").status_code == 302
    assert official.get("/web/approvals").status_code == 302


def test_a_changed_password_ends_open_page_sessions(app, auth, runner):
    name = auth.user("commune_official")
    official = PageSession(app, name)
    assert runner.invoke(args=["set-password", name], input="a new password\n").exit_code == 0
    assert official.get("/web/approvals").status_code == 302


def test_a_collaborator_cannot_open_the_supervisor_dashboard(app, auth):
    collaborator = PageSession(app, auth.user("collaborator"))
    resp = collaborator.get("/web/dashboard")
    assert resp.status_code == 403 and 'data-error-code="forbidden"' in resp.text
    for url in ("/web/approvals", "/web/households", "/web/conflicts", "/web/audit"):
        assert collaborator.get(url).status_code == 403, url


def test_records_outside_ones_units_are_not_found(app, auth):
    # Tam Kỳ's commune 20335 is in district 502; the official and officer are in Trà Đốc / Bắc Trà My.
    other_hh = seed(app, "households", household("20335"))
    other_reg = seed(app, "registrations", registration(other_hh), commune_code="20335")
    own_hh = seed(app, "households", household())
    official = PageSession(app, auth.user("commune_official"))
    officer = PageSession(app, auth.user("district_officer"))
    neighbour = PageSession(app, auth.user("commune_official", unit="20923"))  # another commune of 515
    assert official.get(f"/web/registrations/{other_reg}").status_code == 404
    assert officer.get(f"/web/households/{other_hh}").status_code == 404
    assert officer.get(f"/web/households/{own_hh}").status_code == 200
    assert neighbour.get(f"/web/households/{own_hh}").status_code == 404
    assert officer.get(f"/web/audit?entity=households&id={other_hh}").status_code == 404
    assert officer.get("/web/households?commune=20335").status_code == 404


def test_errors_are_pages_under_web_and_json_under_the_api(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    page = official.get("/web/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html" and "Không tìm thấy" in page.text
    api = official.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_the_api_never_accepts_the_page_cookie(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    resp = official.get("/api/v1/auth/me")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


def test_pages_are_never_framed_nor_kept_in_a_shared_computers_cache(app, auth):
    official = PageSession(app, auth.user("commune_official"))
    for url in ("/web/approvals", "/web/no-such-page", "/web/login"):
        resp = official.get(url)
        assert resp.headers["X-Frame-Options"] == "DENY", url
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], url
        assert resp.headers["Cache-Control"] == "no-store", url
    css = official.get("/web/static/web.css")
    assert css.status_code == 200 and css.headers.get("Cache-Control") != "no-store"
