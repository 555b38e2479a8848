"""One unit of work around every engine call: flushed and committed, or rolled back whole.

Like cosmicpython's ``test_uow.py::test_rolls_back_on_error``: whatever the failure - a
refusal, a bug, a database that keeps saying "locked" - nothing of the attempt is committed,
and a cured database failure runs the whole call again on a fresh store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from server.errors import APIError
from server.extensions import db
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
