"""An anonymous caller learns nothing of a route's arguments: 401 comes before any parsing.

Every rule of the app is walked (so a route added later is walked too) with every method it
takes, a body and a query string that fail every schema, and no credentials. The JSON API and
ODK Central's routes must answer 401 - never a 422 naming the fields the schema expects, nor
a 400 about the body. Open routes (logging in, the API document) are listed with the reason.
"""

from __future__ import annotations

import re
import uuid

import pytest

ODK = {"X-OpenRosa-Version": "1.0"}
OPEN = {
    "/api/v1/auth/token": "logging in: its body is the credential",
    "/api/v1/auth/refresh": "the refresh token in the body is the credential",
    "/api/v1/openapi.json": "the public API document",
    "/api/v1/receipt-key": "the public key that checks push receipts: an auditor needs no login",
    "/v1/sessions": "ODK Central's login: its body is the credential",
}
# Bodies and queries that no schema of the contract accepts.
BAD_BODY = {"changes": "not a list", "decision": 7, "resolution": [], "username": {}, "junk": [1, 2]}
BAD_QUERY = "limit=-5&as_of=2020-02-30&year=abc&unknown=1&cursor=garbage"


def concrete_path(rule: str) -> str:
    """A path matching ``rule``: every argument filled with a value its converter takes."""

    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "string", match.group(2)
        if converter.startswith("int") or name == "project_id":
            return "1"
        if name == "form_id":
            return "exit_registration"
        return str(uuid.uuid4())

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", value, rule)


def guarded_rules(app) -> list[tuple[str, str]]:
    pairs = []
    for rule in app.url_map.iter_rules():
        if rule.rule in OPEN or not rule.rule.startswith(("/api/v1/", "/v1/")):
            continue  # the web pages send a visitor to the login page instead (tests/web)
        for method in sorted(rule.methods - {"OPTIONS"}):
            pairs.append((rule.rule, method))
    return pairs


def test_the_walk_reaches_the_routes_that_parse_arguments(app):
    walked = {rule for rule, _ in guarded_rules(app)}
    for rule in (
        "/api/v1/sync/push",
        "/api/v1/delays",
        "/api/v1/registrations/<string:registration_id>/decision",
        "/api/v1/duplicates",
        "/api/v1/duplicates/<string:case_id>/settle",
    ):
        assert rule in walked


def test_every_guarded_route_answers_401_to_an_anonymous_bad_request(app, client):
    wrong = []
    for rule, method in guarded_rules(app):
        path = f"{concrete_path(rule)}?{BAD_QUERY}"
        body = None if method in ("GET", "HEAD", "DELETE") else BAD_BODY
        resp = client.open(path, method=method, json=body, headers=ODK)
        # A device key in the path is the credential; a bad one is 403 (Collect shows it).
        expected = 403 if rule.startswith("/v1/key/") else 401
        if resp.status_code != expected:
            wrong.append(f"{method} {rule}: {resp.status_code} {resp.get_data(as_text=True)[:120]}")
        elif rule.startswith("/api/v1/") and method != "HEAD":
            assert resp.get_json()["error"] == {
                "code": "unauthorized",
                "message": resp.get_json()["error"]["message"],
                "details": {},
            }
    assert wrong == []


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/sync/push", {"device_id": 5}),
        ("/api/v1/conflicts/00000000-0000-4000-8000-000000000000/resolve", {"resolution": "nonsense"}),
        ("/api/v1/duplicates/00000000-0000-4000-8000-000000000000/settle", {"decision": "nonsense"}),
        ("/api/v1/device-tokens", {"username": ""}),
    ],
)
def test_a_signed_in_user_still_gets_the_field_details(client, auth, path, body):
    """The check moved earlier, not away: with a token, the same bad body is a 422 (or 403 by role)."""
    resp = client.post(path, json=body, headers=auth.headers("admin"))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["details"]


def test_a_role_outside_the_route_is_403_before_its_body_is_read(client, auth):
    resp = client.post("/api/v1/device-tokens", json={"username": ""}, headers=auth.headers("collaborator"))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
