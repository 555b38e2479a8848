"""JWT access and refresh tokens (HS256), decoded with the algorithm pinned."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt
from flask import current_app

from server.auth.standing import standing_user
from server.errors import APIError
from server.models import User
from server.store import accounts as store

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "typ"]


def encode(claims: dict) -> str:
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=ALGORITHM)


def decode(token: str, expected_type: str | tuple[str, ...]) -> dict:
    """The claims of a valid token of ``expected_type`` (or one of them); 401 otherwise.

    ``algorithms`` is pinned, so ``alg: none`` and RS/HS confusion are refused by PyJWT.
    """
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise APIError("unauthorized", "The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise APIError("unauthorized", "The token is not valid.") from exc
    expected = (expected_type,) if isinstance(expected_type, str) else expected_type
    if claims.get("typ") not in expected:
        raise APIError("unauthorized", f"Expected a {' or '.join(expected)} token.")
    return claims


def issue_pair(user: User, now: datetime, family_id: str | None = None) -> dict:
    """A new access token and a new refresh token (in ``family_id``, or a new family)."""
    cfg = current_app.config
    family_id = family_id or uuid.uuid4().hex
    access_ttl, refresh_ttl = cfg["ACCESS_TOKEN_TTL"], cfg["REFRESH_TOKEN_TTL"]
    base = {
        "sub": str(user.id),
        "role": user.role,
        "unit": user.unit_code,
        "gen": user.token_generation,
        "fam": family_id,
        "iat": int(now.timestamp()),
    }
    access = encode(
        {
            **base,
            "typ": "access",
            "jti": uuid.uuid4().hex,
            "exp": int((now + timedelta(seconds=access_ttl)).timestamp()),
        }
    )
    refresh_jti = uuid.uuid4().hex
    expires = now + timedelta(seconds=refresh_ttl)
    refresh = encode({**base, "typ": "refresh", "jti": refresh_jti, "exp": int(expires.timestamp())})
    store.create_refresh_token(refresh_jti, family_id, user.id, now, expires)
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": access_ttl,
    }


def rotate(refresh_token: str, now: datetime) -> dict:
    """Spend a refresh token for a new pair; a reused token revokes its whole family."""
    claims = decode(refresh_token, "refresh")
    row = store.get_refresh_token(claims["jti"])
    if row is None:
        raise APIError("unauthorized", "Unknown refresh token.")
    if not store.spend_refresh_token(row.jti, now):
        # Someone presents a token that was already used: assume it was stolen.
        store.revoke_family(row.family_id, now)
        raise APIError(
            "unauthorized",
            "This refresh token was already used; the session is revoked.",
            details={"revoked": True},
        )
    user = standing_user(row.user_id, int(claims.get("gen", 0)))
    if user is None:
        # Deactivated, or a password or role changed since this login: it ends here.
        store.revoke_family(row.family_id, now)
        raise APIError(
            "unauthorized",
            "The account is disabled, or its password or role changed since this login; log in again.",
            details={"revoked": True},
        )
    return issue_pair(user, now, row.family_id)


def issue_session_token(user: User, now: datetime) -> tuple[str, datetime]:
    """An ODK Central session token (``POST /v1/sessions``) and when it expires.

    A JWT of its own type, ``session``, accepted only on the ODK routes under ``/v1``, so its
    longer life (``ODK_SESSION_TTL``, a day like Central's) never stretches the short access
    tokens of the JSON API. It belongs to a family of its own, checked for revocation like
    any other.
    """
    expires = now + timedelta(seconds=current_app.config["ODK_SESSION_TTL"])
    token = encode(
        {
            "sub": str(user.id),
            "role": user.role,
            "unit": user.unit_code,
            "gen": user.token_generation,
            "fam": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "typ": "session",
            "jti": uuid.uuid4().hex,
            "exp": int(expires.timestamp()),
        }
    )
    return token, expires
