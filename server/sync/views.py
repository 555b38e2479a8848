"""``/api/v1/sync``: devices push batches of changes and pull what changed."""

from __future__ import annotations

import orjson
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.records import validate_record
from schemas.sync import PullQuerySchema, PullResponseSchema, PushRequestSchema, PushResponseSchema
from server import jsontext
from server.auth.current import actor_and_scope, current_user, require_roles
from server.clock import utcnow
from server.errors import APIError
from server.pages import decode_cursor, encode_cursor
from server.store.sync import SqlStore
from server.transactions import run_engine
from sync.engine import pull, push_batch
from sync.records import EncodedData

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="Offline sync: push and pull")
PULL_CURSOR = "sync-pull"  # a pull cursor is bound to its user: another's is refused


@blp.before_request
def limit_push_changes():
    """Refuse a batch of more than 500 changes before validating it (413). Its size in bytes,
    decoded when gzipped, is bounded before anything reads it (``server/bodies.py``)."""
    if request.endpoint != "sync.Push" or request.method != "POST":
        return
    cfg = current_app.config
    body = request.get_json(silent=True)
    changes = body.get("changes") if isinstance(body, dict) else None
    if isinstance(changes, list) and len(changes) > cfg["PUSH_MAX_CHANGES"]:
        raise APIError(
            "payload_too_large",
            f"A batch may hold at most {cfg['PUSH_MAX_CHANGES']} changes.",
            {"max_changes": cfg["PUSH_MAX_CHANGES"], "changes": len(changes)},
        )


@blp.route("/push")
class Push(MethodView):
    @blp.arguments(PushRequestSchema)
    @blp.response(200, PushResponseSchema)
    @blp.alt_response(413, description="payload_too_large")
    @blp.alt_response(503, description="retry: nothing was committed; send the same batch again")
    @require_roles()
    def post(self, body):
        """Apply a device's batch of changes; each change gets its own status."""
        actor = actor_and_scope(current_user())[0]
        now = utcnow()
        key = current_app.extensions["receipt_key"]
        response = run_engine(
            lambda store: push_batch(
                store,
                actor,
                body["device_id"],
                body["batch_id"],
                body["changes"],
                now,
                validate_record,
                sign=lambda answer: key.sign(answer, now),
            )
        )
        # The engine's response is the contract's shape already (it is stored as JSON for
        # re-sends): written by orjson, not dumped field by field through the schema again.
        return Response(jsontext.dumps(response), mimetype="application/json")


@blp.route("/pull")
class Pull(MethodView):
    @blp.arguments(PullQuerySchema, location="query")
    @blp.response(200, PullResponseSchema)
    @require_roles()
    def get(self, args):
        """Records of the caller's units changed since the cursor, each once at its latest version."""
        user = current_user()
        position = decode_cursor(PULL_CURSOR, args.get("cursor"), int, owner=user.id)
        actor, scope = actor_and_scope(user)
        page = pull(SqlStore(), actor, position, args["limit"], scope)
        page["cursor"] = encode_cursor(PULL_CURSOR, page["cursor"], owner=user.id)
        # The body is PullResponseSchema's shape (documented above), written by orjson with
        # each record's stored JSON spliced in as it is: decoding every record's data only to
        # encode it again was most of a pull's cost.
        return Response(jsontext.dumps(page, default=stored_json), mimetype="application/json")


def stored_json(value):
    """orjson's hook for what it does not know: a record's data kept as JSON text."""
    if isinstance(value, EncodedData):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
