"""One write transaction per request, committed in one place, retried when the database says so.

``run_engine(fn)`` is the unit of work of every engine call (push, decision, resolution, a
web form, an ODK review): it creates the ``SqlStore``, calls ``fn(store)``, flushes the
store's buffered writes, commits, and rolls back on any exception, so a handler never
commits, rolls back or knows that the store buffers (ODK Central's ``lib/http/endpoint.js``:
the transaction wraps the endpoint, the error writer runs after the rollback).

When the commit (or a statement) fails for a reason another attempt can cure - a deadlock,
a serialisation failure, a lock timeout, or a unique-key race between two devices creating the
same record - everything is rolled back and the whole unit of work runs again from the start,
reading what the other transaction committed. When the attempts run out the client gets 503
``retry`` and re-sends: a result is only ever reported for a write that is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from server.errors import APIError, is_database_unavailable
from server.extensions import db

if TYPE_CHECKING:
    from server.store.sync import SqlStore

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


def run_engine(fn: Callable[[SqlStore], T]) -> T:
    """Run ``fn`` on a fresh ``SqlStore`` inside one transaction: flush, commit, return its
    result. Any exception rolls everything back and propagates (a domain refusal reaches the
    error writer with nothing written); a cured database failure runs ``fn`` again on a new
    store; exhausted, it is 503 ``retry``."""
    from server.store.sync import SqlStore  # the store layer imports the models; keep this module light

    def work() -> T:
        store = SqlStore()
        result = fn(store)
        store.flush()
        return result

    return run_write(work)


def run_write(work: Callable[[], T]) -> T:
    """Run ``work`` (which must flush its own writes) and commit, retrying cured failures.

    Any exception rolls the transaction back before it propagates."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as exc:
            db.session.rollback()
            if retryable(exc) and attempt < ATTEMPTS:
                log.info("write attempt %d failed (%s); retrying", attempt, type(exc.orig).__name__)
                continue
            if retryable(exc) or is_database_unavailable(exc):
                log.warning("write failed after %d attempts: %s", attempt, exc)
                raise APIError("retry", headers={"Retry-After": "2"}) from exc
            raise
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")
