"""One unit of work around every engine call: flushed and committed, or rolled back whole.

Like cosmicpython's ``test_uow.py::test_rolls_back_on_error``: whatever the failure - a
refusal, a bug, a database that keeps saying "locked" - nothing of the attempt is committed,
and a cured database failure runs the whole call again on a fresh store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from server.errors import APIError
from server.extensions import db
from server.models import SyncIndex
from server.store import records
from server.store.sync import SqlStore
from server.transactions import ATTEMPTS, run_engine
from sync.records import Record
from tests.factories import household, new_id

T0 = datetime(2020, 5, 2, 3, 0, tzinfo=UTC)


def household_version(record_id: str) -> Record:
    return Record("households", record_id, 1, False, household(), "20920", "515", T0)


def test_an_engine_call_is_flushed_and_committed(app):
    record_id = new_id()
    with app.app_context():
        assert run_engine(lambda store: store.save_version(household_version(record_id))) is None
    with app.app_context():
        assert SqlStore().get_record("households", record_id).version == 1


@pytest.mark.parametrize("failure", [RuntimeError("a bug"), APIError("conflict")])
def test_any_failure_rolls_the_whole_call_back(app, failure):
    record_id = new_id()

    def fails(store):
        store.save_version(household_version(record_id))
        store.flush()  # written to the transaction already
        raise failure

    with app.app_context():
        with pytest.raises(type(failure)):
            run_engine(fails)
        db.session.commit()  # whatever the request does next commits nothing of it
    with app.app_context():
        assert SqlStore().get_record("households", record_id) is None


def test_a_database_that_stays_locked_is_retried_on_fresh_stores_then_503(app):
    stores = []

    def locked(store):
        stores.append(store)
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with app.app_context(), pytest.raises(APIError) as refused:
        run_engine(locked)
    assert refused.value.code == "retry" and len({id(s) for s in stores}) == len(stores) == ATTEMPTS


def test_a_retried_call_forgets_what_the_failed_attempt_staged_for_the_pull_index(app):
    """An attempt that fails after staging its records for the pull index leaves nothing
    behind: the next attempt (or the next transaction) numbers only what it wrote itself,
    never a version the failed attempt meant to write (a stale row of the pull index)."""
    staged, written, attempts = new_id(), new_id(), []

    def fails_once(store):
        attempts.append(store)
        if len(attempts) == 1:
            # Written and staged for the pull index, then a later statement of the same flush
            # fails (two phones sending one change at once: the ledger's key) before the
            # sequences are numbered.
            v = household_version(staged)
            records.save_versions(
                [records.VersionWrite(v.entity, v.id, 1, dict(v.data), False, "20920", "515", T0)]
            )
            raise IntegrityError("INSERT INTO applied_changes", {}, Exception("duplicate key"))
        store.save_version(household_version(written))  # the next attempt writes another record

    with app.app_context():
        run_engine(fails_once)
        assert len(attempts) == 2
    with app.app_context():
        assert SqlStore().get_record("households", staged) is None
        indexed = set(db.session.execute(select(SyncIndex.record_id)).scalars())
        assert written in indexed and staged not in indexed
