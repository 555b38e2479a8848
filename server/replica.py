"""Which requests read on the read replica (``DATABASE_REPLICA_URL``), and how fresh it is.

The supervisors' read-only routes - reports, delays, activity, audit, their downloads, the
OData feeds - are marked ``@read_on_replica``; every other route (sync push and pull, every
write, logins) stays on the primary, so a phone always reads its own writes. The marker is
the innermost decorator: authentication and role checks have already run on the primary (a
token revoked a second ago is refused, a pyodk session made a second ago is known), then the
rest of the request's statements run on the replica in one read-only REPEATABLE READ
transaction (``server.extensions.RoutedSession``).

Entering a marked view costs one cheap query on the replica (below; measured well under a
millisecond on loopback) that says how far it trails the primary. When the replica cannot be
reached within ``REPLICA_CONNECT_TIMEOUT`` seconds, or trails by more than
``REPLICA_MAX_LAG`` seconds, or cannot say (nothing replayed since it started), the route
reads the primary instead, as if no replica were set, and its answer carries no
``X-Data-As-Of``; a view whose replica fails in the middle (gone, or a query cancelled by a
recovery conflict) answers again from the primary. Nothing is remembered between requests
but the connection pools, so every worker on every host decides the same way from the
replica's own state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import wraps

from flask import Flask, Response, current_app, g
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.config import REPLICA_BIND
from server.extensions import READ_ENGINE, db

log = logging.getLogger(__name__)

#: The answer header: the replica's last replayed commit time, ISO 8601 in UTC.
DATA_AS_OF = "X-Data-As-Of"

# The last replayed commit's time, and the lag in seconds: none when everything received
# has been replayed and the WAL receiver is streaming (an idle primary writes nothing, so the
# last commit may be old and still current); otherwise the age of that last replayed commit.
# The WAL receiver's status is shown only to members of pg_read_all_stats; to others it is
# never "streaming", and the replica of an idle primary is taken as lagging (README).
FRESHNESS = text(
    """
    SELECT pg_last_xact_replay_timestamp() AS replayed_at,
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                     AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
                THEN 0
                ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
           END AS lag
    """
)


def read_on_replica(view):
    """Mark a read-only view: the rest of its request reads the replica when one is fresh."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not use_replica():
            return view(*args, **kwargs)
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            # The replica went away, or cancelled a query to replay the primary's changes (a
            # recovery conflict, SQLSTATE 40001): the view only reads, so it answers again on
            # the primary rather than fail.
            stay_on_primary(f"failed mid-answer ({type(exc.orig).__name__})")
            return view(*args, **kwargs)

    wrapper.reads_on_replica = True
    return wrapper


def use_replica() -> bool:
    """Send this request's further statements to the replica if it answers and is fresh
    enough; True if it did. Any failure leaves the request on the primary."""
    engine = replica_engine()
    if engine is None:
        return False
    session = db.session()
    session.info[READ_ENGINE] = engine
    try:
        replayed_at, lag = session.execute(FRESHNESS).one()
    except DBAPIError as exc:
        stay_on_primary(f"unreachable ({type(exc.orig).__name__})")
        return False
    max_lag = float(current_app.config["REPLICA_MAX_LAG"])
    if replayed_at is None or lag is None or float(lag) > max_lag:
        stay_on_primary(f"lags {lag} s (at most {max_lag:g} s)" if replayed_at else "has replayed nothing")
        return False
    g.data_as_of = replayed_at
    return True


def replica_engine():
    """The replica's engine, or None when ``DATABASE_REPLICA_URL`` is not set."""
    if REPLICA_BIND not in (current_app.config.get("SQLALCHEMY_BINDS") or {}):
        return None
    return db.engines[REPLICA_BIND]


def stay_on_primary(reason: str) -> None:
    """Undo ``use_replica``: end the replica's transaction and read the primary from here on."""
    log.warning("read replica %s: this request reads the primary", reason)
    db.session.rollback()  # also discards a connection that failed to open
    db.session.info.pop(READ_ENGINE, None)
    g.pop("data_as_of", None)


def format_as_of(moment: datetime) -> str:
    """``X-Data-As-Of``'s value: ISO 8601 in UTC with microseconds, ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def add_data_as_of(response: Response) -> Response:
    as_of = g.get("data_as_of")
    if as_of is not None:
        response.headers[DATA_AS_OF] = format_as_of(as_of)
    return response


def leave_replica(_exc: BaseException | None) -> None:
    """End the replica's transaction with the request, even if the app context lives on."""
    g.pop("data_as_of", None)
    if db.session.registry.has() and db.session.info.pop(READ_ENGINE, None) is not None:
        db.session.rollback()  # a marked view only read; nothing of it is committed


def init_app(app: Flask) -> None:
    app.after_request(add_data_as_of)
    app.teardown_request(leave_replica)
