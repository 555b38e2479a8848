"""Who is calling an ODK route (``/v1/...``): a device key, HTTP Basic, or a Bearer token.

- A device key travels in the path, ``/v1/key/<key>/projects/1/...``, as ODK Central's app
  users' do: the phone is set up once by scanning a QR code and never asks for a password.
  Only the key's SHA-256 is stored. A bad or revoked key is 403, never 401, so Collect shows
  the message rather than a password prompt that could not help.
- HTTP Basic carries the user's own username and password (ODK Collect's server settings,
  Enketo), checked with the same throttling as ``POST /api/v1/auth/token``.
- A Bearer token is a JSON API access token or an ODK session token (``POST /v1/sessions``,
  what pyodk sends).
"""

from __future__ import annotations

import hashlib
import secrets

from flask import g, request

from server.auth.current import authenticate_bearer, bearer_token
from server.auth.logins import authenticate_password
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.models import User
from server.store import accounts as store

BEARER_TYPES = ("access", "session")


def issue_device_key() -> str:
    """A new device key: 64 URL-safe characters (384 random bits), fit for a URL path."""
    return secrets.token_urlsafe(48)


def hash_device_key(key: str) -> str:
    """What is stored of a key. A plain SHA-256 suffices: the key is random, not a password."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def authenticate_odk(device_key: str | None = None) -> User:
    """The user of this ODK request (cached on ``g`` for ``current_user``); raises APIError.

    ``device_key`` is the key from the path, when the route has one; then nothing else is
    looked at. Otherwise ``Authorization`` must hold Basic credentials or a Bearer token.
    """
    if device_key is not None:
        return _authenticate_device_key(device_key)
    token = bearer_token()
    if token is not None:
        user = authenticate_bearer(token, BEARER_TYPES)
    else:
        credentials = request.authorization
        if credentials is None or credentials.type != "basic" or not credentials.username:
            raise APIError(
                "unauthorized",
                "Log in: HTTP Basic with your username and password, or a Bearer token.",
            )
        user = log_in(credentials.username, credentials.password or "")
    g.user = user
    return user


def log_in(username: str, password: str) -> User:
    """A password login on an ODK route, throttled with every other (``server.auth.logins``).

    Committed at once: a failure must outlive the error answer, and a success clears the
    failure count before the request's own work starts.
    """
    try:
        user = authenticate_password(username, password, request.remote_addr or "unknown", utcnow())
    finally:
        db.session.commit()
    return user


def _authenticate_device_key(key: str) -> User:
    row = store.get_active_device_token(hash_device_key(key))
    user = store.get_user_by_id(row.user_id) if row is not None else None
    if user is None or not user.active:
        raise APIError("invalid_device_key")
    g.user, g.device_token = user, row
    return user


def device_key_label() -> str | None:
    """``key:<id>`` when the request came through a device key: a device id of last resort."""
    row = getattr(g, "device_token", None)
    return f"key:{row.id}" if row is not None else None
