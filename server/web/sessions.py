"""Who is looking at a page: the page session, role checks, and the CSRF token.

A login starts a session kept in the database (``web_sessions``): Flask's signed cookie
(HttpOnly, SameSite=Lax, Secure in production - see ``configure_cookies``) carries only its
random key. Logging out ends the row, so a copy of the cookie taken before is refused after,
by every worker; a password, role or unit change ends it too (``server.auth.standing``).
The JSON API never reads the cookie: /api/v1 stays Bearer-only, so a cookie can never
authorise an API write.

CSRF: every session carries a random token; every form posts it back and ``check_csrf``
refuses a POST whose token is missing or different (400 ``csrf_failed``). It is twenty lines
here rather than Flask-WTF: the pages need nothing else from WTForms, and one token per
session compared in constant time is all CSRFProtect would do for us. SameSite=Lax already
stops cross-site POSTs in current browsers; the token covers older ones and same-site
subdomains.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import wraps

from flask import Flask, abort, g, redirect, request, session, url_for

from server.auth.current import actor_and_scope
from server.auth.standing import standing_user
from server.clock import utcnow
from server.errors import APIError
from server.models import User
from server.store import accounts as account_store
from sync.actors import Actor, Scope
from sync.lifecycles import may

CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12  # one working day; a shared office laptop should not stay signed in


def configure_cookies(app: Flask) -> None:
    """Session cookie flags. Secure comes from the settings (on in production, see config)."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)


def session_key_hash(key: str) -> str:
    """What is kept of a session's key: its SHA-256 (the key is random, not a password)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (a new key, a new CSRF token); the caller commits."""
    now = utcnow()
    account_store.delete_expired_web_sessions(now)
    key = secrets.token_urlsafe(32)
    account_store.create_web_session(session_key_hash(key), user, now, now + timedelta(hours=SESSION_HOURS))
    session.clear()
    session.permanent = True
    session["sid"] = key
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """End this session on the server, for every copy of its cookie; the caller commits."""
    key = session.get("sid")
    if isinstance(key, str):
        account_store.end_web_session(session_key_hash(key), utcnow())
    session.clear()


def page_user() -> User | None:
    """The user of this page request's live session, if it still stands, or None."""
    if "page_user" not in g:
        user = None
        key = session.get("sid")
        if isinstance(key, str):
            row = account_store.get_live_web_session(session_key_hash(key), utcnow())
            if row is not None:
                user = standing_user(row.user_id, row.generation)
        g.page_user = user
    return g.page_user


def require_page(*roles: str):
    """Send a visitor to the login page; refuse (403) a role not in ``roles`` (none = any)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = page_user()
            if user is None:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def page_may(act: str) -> bool:
    """May the signed-in user do ``act`` (``sync.lifecycles.RIGHTS``)? For buttons and links."""
    user = page_user()
    return user is not None and may(user.role, act)


def page_scope() -> Scope:
    """The signed-in user's units, exactly as the API scopes a Bearer token's user."""
    return actor_and_scope(page_user())[1]


def page_actor() -> Actor:
    """The signed-in user as the engine's actor."""
    return actor_and_scope(page_user())[0]


def csrf_token() -> str:
    """This session's CSRF token (made on first use, e.g. on the login page)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a state-changing request without this session's token (400 csrf_failed)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        raise APIError("csrf_failed")
