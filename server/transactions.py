"""One write transaction per request, committed in one place, retried when the database says so.

A push runs the engine against a ``SqlStore`` and commits. When the commit (or a statement)
fails for a reason another attempt can cure - a deadlock, a serialisation failure, a lock
timeout, or a unique-key race between two devices creating the same record - everything is
rolled back and the whole unit of work runs again from the start, reading what the other
transaction committed. When the attempts run out the client gets 503 ``retry`` and re-sends:
a result is only ever reported for a write that is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from server.errors import APIError, is_database_unavailable
from server.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 4
# PostgreSQL SQLSTATEs worth another attempt: serialization failure, deadlock, lock timeout.
RETRYABLE_STATES = {"40001", "40P01", "55P03"}


def retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # a concurrent insert of the same key: the next attempt reads it
    if isinstance(exc, DBAPIError):
        state = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if state in RETRYABLE_STATES:
            return True
        if isinstance(exc, OperationalError) and "locked" in str(exc).lower():
            return True  # SQLite: database is locked past the busy timeout
    return False


def run_write(work: Callable[[], T]) -> T:
    """Run ``work`` (which must flush its own writes) and commit, retrying cured failures."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except APIError:
            db.session.rollback()
            raise
        except DBAPIError as exc:
            db.session.rollback()
            if retryable(exc) and attempt < ATTEMPTS:
                log.info("write attempt %d failed (%s); retrying", attempt, type(exc.orig).__name__)
                continue
            if retryable(exc) or is_database_unavailable(exc):
                log.warning("write failed after %d attempts: %s", attempt, exc)
                raise APIError("retry", headers={"Retry-After": "2"}) from exc
            raise
    raise AssertionError("unreachable")
