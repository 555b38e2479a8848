"""``/api/v1/registrations/<id>/decision``: the commune People's Committee decides a form."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.decisions import DecisionRequest
from schemas.sync import PulledRecordSchema
from server.auth.current import actor_and_scope, current_user, require_roles
from server.clock import utcnow
from server.transactions import run_engine
from sync.engine import decide_registration
from sync.lifecycles import DECIDE, roles_for

blp = Blueprint("decisions", __name__, url_prefix="/api/v1/registrations", description="Decisions on forms")


@blp.route("/<string:registration_id>/decision")
class Decision(MethodView):
    @blp.arguments(DecisionRequest)
    @blp.response(200, PulledRecordSchema)
    @blp.alt_response(409, description="version_conflict or invalid_transition")
    @require_roles(*roles_for(DECIDE))
    def post(self, body, registration_id):
        """Approve, reject or return a submitted registration (expected version required)."""
        actor = actor_and_scope(current_user())[0]
        return run_engine(
            lambda store: decide_registration(
                store,
                actor,
                registration_id.lower(),
                body["decision"],
                body["note"],
                body["version"],
                utcnow(),
            )
        )
