"""A signed-in page session through the Flask test client, and ways to seed what pages show."""

from __future__ import annotations

import re
from datetime import datetime

from tests.conftest import PASSWORD
from tests.factories import household, put, registration
from tests.phones import Phone

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BATCH = re.compile(r'name="batch_id" value="([^"]+)"')


class PageSession:
    """One person at a browser: their own cookie jar, logged in through the login form."""

    def __init__(self, app, username: str, password: str = PASSWORD):
        self.client = app.test_client()
        self.username = username
        resp = self.login(username, password)
        assert resp.status_code == 302, resp.text

    def login(self, username: str, password: str):
        page = self.client.get("/web/login")
        return self.client.post(
            "/web/login", data={"username": username, "password": password, "csrf_token": token_in(page.text)}
        )

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            return session["csrf_token"]

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kwargs):
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf()
        return self.client.post(url, data=body, **kwargs)


def token_in(html: str) -> str:
    return CSRF.search(html).group(1)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*" role="status">([^<]*)</p>', html)


def new_registration_data(household_id: str, **fields) -> dict:
    """A registration as a phone sends it (no server-managed fields)."""
    data = registration(household_id, **fields)
    for name in ("status", "submitted_at", "decided_by", "decided_at", "decision_note"):
        data.pop(name)
    return data


def capture_forms(
    phone: Phone, count: int, commune: str = "20920", **household_fields
) -> list[tuple[str, str]]:
    """A collaborator's phone captures ``count`` households with their forms and syncs them."""
    made = []
    for i in range(count):
        hh = phone.create("households", household(commune, head_name=f"Hồ Văn Số {i}", **household_fields))
        reg = phone.create("registrations", new_registration_data(hh))
        made.append((hh, reg))
    phone.sync()
    return made


def days_ago(now: datetime, days: int) -> str:
    from datetime import timedelta

    return (now - timedelta(days=days)).isoformat()


def seed(app, entity: str, data: dict, **kwargs) -> str:
    """Store a record directly (no engine, no audit): for pages that only read it."""
    with app.app_context():
        return put(entity, data, **kwargs)
