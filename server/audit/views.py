"""``/api/v1/audit``: who changed what, when, from which device and batch - read only.

The trail is append-only: this resource has GET and nothing else (any other method is 405),
and no other endpoint edits or deletes it. Commune officials, district officers, supervisors
and admins read the entries of their units; collaborators are refused (403).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.audit import AuditPage, AuditQuery
from server.auth.current import current_scope, require_roles
from server.clock import programme_zone
from server.pages import decode_cursor, encode_cursor
from server.store import audit as store
from sync.lifecycles import READ_AUDIT, roles_for

blp = Blueprint("audit_entries", __name__, url_prefix="/api/v1", description="The audit trail")


@blp.route("/audit")
class AuditTrail(MethodView):
    @blp.arguments(AuditQuery, location="query", unknown=RAISE)
    @blp.response(200, AuditPage)
    @require_roles(*roles_for(READ_AUDIT))
    def get(self, args):
        """The audit trail of the caller's units, oldest first, a page at a time."""
        page = store.list_entries(
            store.AuditFilter(
                scope=current_scope(),
                limit=args["limit"] + 1,
                entity=args["entity"],
                record_id=canonical_record_id(args["id"]),
                actor=args["actor"],
                since=first_instant(args["since"]),
                after=decode_cursor("audit", args["cursor"], int),
            )
        )
        more = len(page) > args["limit"]
        page = page[: args["limit"]]
        return {"items": page, "cursor": encode_cursor("audit", page[-1].id) if more else None}


def canonical_record_id(record_id: str | None) -> str | None:
    """Record ids are stored as canonical UUID text; other ids are matched as given."""
    if record_id is None:
        return None
    try:
        return str(uuid.UUID(record_id))
    except ValueError:
        return record_id


def first_instant(since: date | datetime | None) -> datetime | None:
    """A day means from midnight of that day in the programme's time zone."""
    if since is None or isinstance(since, datetime):
        return since
    return datetime.combine(since, time(0), tzinfo=programme_zone()).astimezone(UTC)
