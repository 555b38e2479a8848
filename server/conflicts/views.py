"""``/api/v1/conflicts``: both sides of a field-level conflict, and a person's resolution."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.conflicts import ConflictList, ConflictQuery, ResolveRequest, ResolveResponse
from schemas.records import validate_record
from server.auth.current import actor_and_scope, current_user, require_roles
from server.clock import utcnow
from server.store.sync import SqlStore
from server.transactions import run_engine
from sync.actors import resolve_scope
from sync.engine import resolve_conflict
from sync.lifecycles import RESOLVE, roles_for

blp = Blueprint("conflicts", __name__, url_prefix="/api/v1/conflicts", description="Sync conflicts")


@blp.route("")
class Conflicts(MethodView):
    @blp.arguments(ConflictQuery, location="query")
    @blp.response(200, ConflictList)
    @require_roles()
    def get(self, args):
        """Conflicts in the caller's units, oldest first, each with the record as it is now."""
        store = SqlStore()
        actor = actor_and_scope(current_user())[0]
        items = []
        for conflict in store.list_conflicts(
            resolve_scope(store, actor),
            status=args.get("status"),
            entity=args.get("entity"),
            unit_code=args.get("unit"),
        ):
            record = store.get_record(conflict.entity, conflict.record_id)
            items.append({**conflict.to_wire(), "record": record.to_wire() if record else None})
        return {"items": items}


@blp.route("/<string:conflict_id>/resolve")
class Resolve(MethodView):
    @blp.arguments(ResolveRequest)
    @blp.response(200, ResolveResponse)
    @require_roles(*roles_for(RESOLVE))
    def post(self, body, conflict_id):
        """Resolve a conflict: keep_server, take_device or custom data; a new version follows."""
        actor = actor_and_scope(current_user())[0]
        return run_engine(
            lambda store: resolve_conflict(
                store, actor, conflict_id, body["resolution"], body.get("data"), utcnow(), validate_record
            )
        )
