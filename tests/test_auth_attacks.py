"""Attacks on tokens and passwords that tests/test_auth.py does not already cover.

Every forged, stale or revoked credential is 401 ``unauthorized`` on a protected endpoint and
on refresh; login is throttled per user from any address; a password never appears in a
response, in the log, or in a command's output.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import jwt
import pytest

from server.extensions import db
from server.store.accounts import get_user_by_username
from tests.conftest import PASSWORD

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def me(client, token: str):
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def assert_unauthorized(resp) -> None:
    assert resp.status_code == 401, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "unauthorized"


def b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"])


def test_a_payload_edited_under_the_original_signature_is_refused(client, auth):
    """The collaborator rewrites their token's role to admin and keeps the signature."""
    token = auth.tokens(auth.user("collaborator"))["access_token"]
    head, _, sig = token.split(".")
    escalated = {**claims_of(token), "role": "admin", "unit": "49"}
    assert_unauthorized(me(client, f"{head}.{b64(escalated)}.{sig}"))


def test_alg_none_with_a_real_users_claims_is_refused(client, auth):
    token = auth.tokens(auth.user("admin"))["access_token"]
    claims = claims_of(token)
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        assert_unauthorized(me(client, unsigned))


def test_a_token_signed_with_the_secret_under_another_algorithm_is_refused(client, auth):
    claims = claims_of(auth.tokens(auth.user("admin"))["access_token"])
    for algorithm in ("HS384", "HS512"):
        assert_unauthorized(me(client, jwt.encode(claims, SECRET, algorithm=algorithm)))


def test_claims_that_name_nobody_or_lack_a_required_claim_are_refused(client, auth):
    claims = claims_of(auth.tokens(auth.user("admin"))["access_token"])
    assert_unauthorized(me(client, jwt.encode({**claims, "sub": "987654"}, SECRET, algorithm="HS256")))
    assert_unauthorized(me(client, jwt.encode({**claims, "sub": "admin"}, SECRET, algorithm="HS256")))
    for missing in ("exp", "sub", "typ", "jti"):
        partial = {k: v for k, v in claims.items() if k != missing}
        assert_unauthorized(me(client, jwt.encode(partial, SECRET, algorithm="HS256")))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer", "x" * 5000, "é.é.é"])
def test_garbage_in_the_authorization_header_is_401_not_500(client, garbage):
    resp = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {garbage}"})
    assert_unauthorized(resp)


def test_an_access_token_cannot_be_used_to_refresh(client, auth):
    pair = auth.tokens(auth.user("collaborator"))
    assert_unauthorized(refresh(client, pair["access_token"]))


def test_an_expired_refresh_token_is_refused(client, auth):
    pair = auth.tokens(auth.user("collaborator"))
    claims = claims_of(pair["refresh_token"])
    claims["exp"] = int(time.time()) - 60
    assert_unauthorized(refresh(client, jwt.encode(claims, SECRET, algorithm="HS256")))


def test_a_forged_refresh_token_with_an_unknown_id_is_refused(client, auth):
    claims = claims_of(auth.tokens(auth.user("collaborator"))["refresh_token"])
    assert_unauthorized(refresh(client, jwt.encode({**claims, "jti": "f" * 32}, SECRET, algorithm="HS256")))


def test_a_disabled_user_cannot_refresh(app, client, auth):
    name = auth.user("collaborator")
    pair = auth.tokens(name)
    with app.app_context():
        get_user_by_username(name).active = False
        db.session.commit()
    assert_unauthorized(refresh(client, pair["refresh_token"]))


def test_a_revoked_family_stops_every_token_in_it_on_every_endpoint(client, auth):
    """After a logout, the access token issued by a later refresh in the family is refused too."""
    name = auth.user("collaborator")
    pair = auth.tokens(name)
    newer = refresh(client, pair["refresh_token"]).get_json()
    headers = {"Authorization": f"Bearer {newer['access_token']}"}
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    for path in ("/api/v1/auth/me", "/api/v1/sync/pull", "/api/v1/households"):
        assert_unauthorized(client.get(path, headers=headers))
    assert_unauthorized(refresh(client, newer["refresh_token"]))
    # another login of the same user is a new family and works
    assert me(client, auth.tokens(name)["access_token"]).status_code == 200


def login_from(client, address: str, username: str, password: str):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_per_user_throttle_holds_whichever_address_the_guesses_come_from(app, client, auth):
    name = auth.user("collaborator")
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login_from(client, f"192.0.2.{i + 1}", name, "wrong").status_code == 401
    resp = login_from(client, "192.0.2.200", name, PASSWORD)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0


def test_a_password_is_never_logged_nor_returned(app, client, auth, runner, caplog):
    secret = "Pa55-wörd-never-in-logs"
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(
        args=["create-user", "ctv-secret", "--role", "collaborator", "--unit", "20920"], input=secret + "\n"
    )
    assert result.exit_code == 0, result.output
    bodies = []
    ok = client.post("/api/v1/auth/token", json={"username": "ctv-secret", "password": secret})
    assert ok.status_code == 200
    bodies.append(ok.get_data(as_text=True))
    bad = client.post("/api/v1/auth/token", json={"username": "ctv-secret", "password": secret + "x"})
    assert bad.status_code == 401
    bodies.append(bad.get_data(as_text=True))
    # a validation error echoes field names, never the password's value
    invalid = client.post("/api/v1/auth/token", json={"username": "", "password": secret, "extra": 1})
    assert invalid.status_code == 422
    bodies.append(invalid.get_data(as_text=True))
    headers = {"Authorization": f"Bearer {ok.get_json()['access_token']}"}
    bodies.append(client.get("/api/v1/auth/me", headers=headers).get_data(as_text=True))
    bodies.append(client.get("/api/v1/users", headers=auth.headers("admin")).get_data(as_text=True))

    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for text in (*bodies, logged, result.output):
        assert secret not in text
        assert "$argon2" not in text  # nor its hash
    assert "password_hash" not in bodies[-1] and "ctv-secret" in bodies[-1]
