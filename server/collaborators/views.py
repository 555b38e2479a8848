"""``/api/v1/activity``: which collaborators work - their syncs, records, follow-ups and trouble.

Who may ask: commune officials (their commune), district officers (their district),
supervisors and admins (the province). Collaborators are refused (403).
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.activity import ActivityQuery, ActivityReport
from server.auth.current import current_scope, requested_unit, require_roles
from server.clock import today
from server.replica import read_on_replica
from server.store import activity as store
from server.store.calendar import end_of_day
from sync.lifecycles import READ_AUDIT, roles_for

blp = Blueprint("collaborators", __name__, url_prefix="/api/v1", description="Collaborators' activity")


@blp.route("/activity")
class Activity(MethodView):
    @blp.arguments(ActivityQuery, location="query", unknown=RAISE)
    @blp.response(200, ActivityReport)
    @require_roles(*roles_for(READ_AUDIT))
    @read_on_replica
    def get(self, args):
        """One row per active collaborator in scope, counted up to the end of ``as_of``.

        The longest silent come first. A past day counts what existed then, with the last
        sync taken from the batches received by that day.
        """
        config = current_app.config
        as_of = args["as_of"] or today()
        query = store.ActivityQuery(
            as_of=as_of,
            cutoff=end_of_day(as_of, config["TIMEZONE"]),
            from_history=as_of < today(),
            scope=current_scope(),
            unit=requested_unit(args["unit"]),
            silent_days=int(config["COLLABORATOR_SILENT_DAYS"]),
            zone=config["TIMEZONE"],
        )
        return {"as_of": as_of, "items": store.list_activity(query)}
