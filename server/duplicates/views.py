"""``/api/v1/duplicates``: households that may be one, and the commune official's settlement."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.duplicates import DuplicateList, DuplicateQuery, SettleRequest, SettleResponse
from server.auth.current import actor_and_scope, current_user, requested_unit, require_roles
from server.clock import utcnow
from server.pages import decode_cursor, encode_cursor
from server.store import duplicates as store
from server.transactions import run_engine
from sync.engine import settle_duplicate
from sync.lifecycles import READ_AUDIT, SETTLE_DUPLICATES, roles_for

blp = Blueprint("duplicates", __name__, url_prefix="/api/v1/duplicates", description="Possible duplicates")


@blp.route("")
class Duplicates(MethodView):
    @blp.arguments(DuplicateQuery, location="query")
    @blp.response(200, DuplicateList)
    @require_roles(*roles_for(READ_AUDIT))
    def get(self, args):
        """duplicate_suspected cases in the caller's units, in id order, a page at a time."""
        scope = actor_and_scope(current_user())[1]
        page = store.list_cases(
            scope,
            unit=requested_unit(args["unit"]),
            status=args["status"],
            after=decode_cursor("duplicates", args["cursor"], str),
            limit=args["limit"] + 1,  # one more tells whether a next page exists
        )
        more = len(page) > args["limit"]
        page = page[: args["limit"]]
        return {
            "items": [case.to_wire() for case in page],
            "cursor": encode_cursor("duplicates", page[-1].id) if more else None,
        }


@blp.route("/<string:case_id>/settle")
class Settle(MethodView):
    @blp.arguments(SettleRequest)
    @blp.response(200, SettleResponse)
    @blp.alt_response(409, description="invalid_transition: already settled")
    @require_roles(*roles_for(SETTLE_DUPLICATES))
    def post(self, body, case_id):
        """Settle a possible duplicate: distinct, or the same (keep one; the other's records move)."""
        actor = actor_and_scope(current_user())[0]
        return run_engine(
            lambda s: settle_duplicate(s, actor, case_id.lower(), body["decision"], body["keep"], utcnow())
        )
