"""Login, refresh rotation with reuse detection, logout, and every way a token can be bad."""

import time
from datetime import UTC, datetime, timedelta

import jwt

SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def login(client, username, password="correct horse battery"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def me(client, token):
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_login_returns_a_bearer_pair(client, auth):
    name = auth.user("collaborator")
    resp = login(client, name)
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert me(client, body["access_token"]).get_json()["username"] == name


def test_access_token_carries_the_required_claims(client, auth):
    token = auth.tokens(auth.user("district_officer"))["access_token"]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert {"exp", "iat", "jti", "sub", "role", "unit"} <= set(claims)
    assert claims["role"] == "district_officer" and claims["unit"] == "515"


def test_wrong_password_and_unknown_user_are_the_same_error(client, auth):
    name = auth.user("collaborator")
    for resp in (login(client, name, "wrong"), login(client, "nobody")):
        assert resp.status_code == 401
        assert resp.get_json()["error"]["code"] == "invalid_credentials"


def test_refresh_rotates_and_reuse_revokes_the_family(client, auth):
    pair = auth.tokens(auth.user("collaborator"))
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200
    new = first.get_json()
    assert new["refresh_token"] != pair["refresh_token"]
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reuse.status_code == 401 and reuse.get_json()["error"]["code"] == "unauthorized"
    # the whole family is gone: the newer refresh token and its access token no longer work
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 401
    )
    assert me(client, new["access_token"]).status_code == 401


def test_logout_revokes_the_family(client, auth):
    pair = auth.tokens(auth.user("collaborator"))
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    )
    assert me(client, pair["access_token"]).status_code == 401


def forged(claims: dict, key=SECRET, algorithm="HS256") -> str:
    now = int(time.time())
    base = {
        "sub": "1",
        "role": "admin",
        "unit": "49",
        "fam": "x",
        "typ": "access",
        "jti": "j",
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


def test_expired_token_is_refused(client, auth):
    auth.user("admin")
    past = datetime.now(UTC) - timedelta(hours=1)
    token = forged({"exp": int(past.timestamp())})
    resp = me(client, token)
    assert resp.status_code == 401 and "expired" in resp.get_json()["error"]["message"]


def test_tampered_signature_is_refused(client, auth):
    good = auth.tokens(auth.user("collaborator"))["access_token"]
    head, payload, sig = good.split(".")
    tampered = f"{head}.{payload}.{sig[:-4]}AAAA"
    assert me(client, tampered).status_code == 401
    assert me(client, forged({}, key="another-key-of-sufficient-length-xx")).status_code == 401


def test_alg_none_and_other_algorithms_are_refused(client, auth):
    auth.user("admin")
    unsigned = jwt.encode(
        {"sub": "1", "typ": "access", "jti": "j", "iat": int(time.time()), "exp": int(time.time()) + 600},
        None,
        algorithm="none",
    )
    assert me(client, unsigned).status_code == 401
    assert me(client, forged({}, algorithm="HS512")).status_code == 401


def test_a_refresh_token_is_not_an_access_token(client, auth):
    pair = auth.tokens(auth.user("collaborator"))
    assert me(client, pair["refresh_token"]).status_code == 401


def test_missing_token_is_unauthorized(client):
    resp = client.get("/api/v1/auth/me")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


def test_disabled_user_is_refused(app, client, auth):
    from server.extensions import db
    from server.store.accounts import get_user_by_username

    name = auth.user("collaborator")
    token = auth.tokens(name)["access_token"]
    with app.app_context():
        get_user_by_username(name).active = False
        db.session.commit()
    assert me(client, token).status_code == 401
    assert login(client, name).status_code == 401


def test_login_is_throttled_per_user_with_retry_after(client, auth):
    name = auth.user("collaborator")
    for _ in range(5):
        assert login(client, name, "wrong").status_code == 401
    resp = login(client, name)  # even the right password waits now
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"]["code"] == "too_many_requests"


def test_password_never_comes_back(client, auth):
    name = auth.user("collaborator")
    resp = login(client, name)
    assert "correct horse" not in resp.get_data(as_text=True)
