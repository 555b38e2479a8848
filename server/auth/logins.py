"""Password logins with throttling, shared by the token endpoint and the web login page.

Failures are counted in the database (per username and per address), so every worker and
both ways in (the API and the pages) throttle alike: five wrong passwords on the page count
against the same budget as five on the token endpoint.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from server.auth.passwords import verify_password
from server.errors import APIError
from server.models import User
from server.store import accounts as store


def authenticate_password(username: str, password: str, address: str, now: datetime) -> User:
    """The active user with this password, or APIError ``too_many_requests`` /
    ``invalid_credentials``. A failure is recorded in the session: the caller commits it
    before it answers, whatever the outcome."""
    limit, window = current_app.config["LOGIN_MAX_FAILURES"], current_app.config["LOGIN_FAILURE_WINDOW"]
    if (
        store.count_recent_failures(now, window, username=username) >= limit
        or store.count_recent_failures(now, window, address=address) >= limit * 4
    ):
        oldest = store.oldest_recent_failure(now, window, username, address) or now
        retry_after = max(1, int(window - (now - oldest).total_seconds()))
        raise APIError(
            "too_many_requests",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    user = store.get_user_by_username(username)
    if not verify_password(user.password_hash if user else None, password) or not user.active:
        store.record_failure(username, address, now)
        raise APIError("invalid_credentials")
    store.clear_failures(username)
    return user
