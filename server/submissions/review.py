"""A Central ``reviewState`` set on a submission is the commune official's decision.

``PATCH …/submissions/<instanceId> {"reviewState": "approved"}`` from pyodk is the same act
as ``POST /api/v1/registrations/<id>/decision``: it goes through the engine's
``decide_registration``, with the same rules (only a commune official of that commune or an
admin; only a ``submitted`` registration), on the registration's current version.
"""

from __future__ import annotations

from datetime import datetime

from server.auth.current import actor_and_scope
from server.errors import APIError
from server.models import OdkSubmission, User
from server.store.sync import SqlStore
from server.transactions import run_engine
from sync.engine import decide_registration
from sync.lifecycles import DECISIONS, decision_for_review_state


def review_submission(user: User, submission: OdkSubmission, review_state: object, now: datetime) -> None:
    """Decide the submission's registration; commit. Raises APIError or the engine's errors."""
    decision = decision_for_review_state(review_state)
    if decision is None:
        states = ", ".join(d.review_state for d in DECISIONS.values())
        raise APIError(
            "validation_error",
            f"reviewState must be one of: {states}.",
            {"reviewState": [f"Must be one of: {states}."]},
        )
    if submission.entity != "registrations":
        raise APIError("bad_request", "Only exit-registration submissions are reviewed.")
    if not submission.record_id:
        raise APIError("conflict", "The engine has not accepted this submission's registration.")
    actor = actor_and_scope(user)[0]

    def decide(store: SqlStore) -> None:
        current = store.get_record("registrations", submission.record_id)
        if current is None or current.deleted:
            raise APIError("conflict", "The engine has not accepted this submission's registration.")
        # Central's PATCH carries no version: the decision is on the version the server holds.
        decide_registration(store, actor, submission.record_id, decision.word, None, current.version, now)

    run_engine(decide)
