"""Password logins with throttling, shared by the token endpoint, the web login page and ODK.

Failures are counted in the database, so every worker and every way in (the API, the pages,
ODK Basic logins) throttle alike. Two limits, neither of them on an address alone: a commune
office behind one NAT, or a carrier's shared address, must not be locked out because one of
its users mistypes a password - nor because an attacker sits behind the same address.

- per (username, address): ``LOGIN_MAX_FAILURES`` failures within ``LOGIN_FAILURE_WINDOW``
  lock that username from that address until the oldest of them leaves the window;
- per username, from any address: from ``LOGIN_MAX_FAILURES`` failures on, each further
  attempt waits ``BACKOFF_FIRST`` seconds after the latest failure, doubled with every
  further failure, at most the window: guesses spread over many addresses slow down
  exponentially, while the user (at another address) waits seconds or minutes, not hours.

A locked attempt is not itself counted, so one address can never push a user's back-off
past its first step. A success clears that username's failures from that address.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app

from server.auth.passwords import verify_password
from server.errors import APIError
from server.models import User
from server.store import accounts as store

BACKOFF_FIRST = 15  # seconds a user waits after reaching LOGIN_MAX_FAILURES; then doubled


def retry_after(now: datetime, username: str, address: str) -> int | None:
    """Seconds until ``username`` may try again from ``address``; None when it may now."""
    limit, window = current_app.config["LOGIN_MAX_FAILURES"], current_app.config["LOGIN_FAILURE_WINDOW"]
    recent = store.summarise_recent_failures(username, address, now - timedelta(seconds=window))
    waits = []
    if recent.pair_count >= limit:
        waits.append((recent.pair_oldest + timedelta(seconds=window) - now).total_seconds())
    if recent.user_count >= limit:
        backoff = min(window, BACKOFF_FIRST * 2 ** (recent.user_count - limit))
        waits.append((recent.user_latest + timedelta(seconds=backoff) - now).total_seconds())
    wait = max(waits, default=0)
    return max(1, math.ceil(wait)) if wait > 0 else None


def authenticate_password(username: str, password: str, address: str, now: datetime) -> User:
    """The active user with this password, or APIError ``too_many_requests`` /
    ``invalid_credentials``. A failure is recorded in the session: the caller commits it
    before it answers, whatever the outcome."""
    wait = retry_after(now, username, address)
    if wait is not None:
        raise APIError(
            "too_many_requests",
            details={"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )
    user = store.get_user_by_username(username)
    if not verify_password(user.password_hash if user else None, password) or not user.active:
        store.record_failure(username, address, now)
        raise APIError("invalid_credentials")
    store.clear_failures(username, address)
    return user
