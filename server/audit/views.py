"""``/api/v1/audit``: who changed what, when, from which device and batch - read only.

The trail is append-only: this resource has GET and nothing else (any other method is 405),
and no other endpoint edits or deletes it. Commune officials, district officers, supervisors
and admins read the entries of their units; collaborators are refused (403).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.audit import AuditPage, AuditQuery
from server.auth.current import current_scope, require_roles
from server.clock import programme_zone, utcnow
from server.exports import CSV_MIMETYPE, Column, render_table
from server.pages import decode_cursor, encode_cursor
from server.replica import read_on_replica
from server.store import audit as store
from sync.lifecycles import READ_AUDIT, roles_for
from sync.trail import CHAIN_FIELDS, GENESIS

blp = Blueprint("audit_entries", __name__, url_prefix="/api/v1", description="The audit trail")


@blp.route("/audit")
class AuditTrail(MethodView):
    @blp.arguments(AuditQuery, location="query", unknown=RAISE)
    @blp.response(200, AuditPage)
    @blp.alt_response(
        200,
        schema={"type": "string"},
        content_type=CSV_MIMETYPE,
        success=True,
        description="format=csv: the entries, the chain head last",
    )
    @require_roles(*roles_for(READ_AUDIT))
    @read_on_replica
    def get(self, args):
        """The audit trail of the caller's units, oldest first, a page at a time (or, with
        format=csv, every entry of the filter as a file with the chain's head last)."""
        query = store.AuditFilter(
            scope=current_scope(),
            limit=args["limit"] + 1,
            entity=args["entity"],
            record_id=canonical_record_id(args["id"]),
            actor=args["actor"],
            since=first_instant(args["since"]),
            after=decode_cursor("audit", args["cursor"], int),
        )
        if args["format"] == "csv":
            return audit_csv(query)
        page = store.list_entries(query)
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


# Every field the entry's hash covers, so an auditor has all the chain was computed over.
CSV_COLUMNS = [Column(name) for name in ("id", *CHAIN_FIELDS, "prev_hash", "entry_hash")]


def audit_csv(query: store.AuditFilter) -> Response:
    """Every entry of the filter, then one `chain_head` row: the position and hash of the
    whole trail's last entry when the file was made (also in the X-Audit-Chain-Head header),
    so the file can be held against the chain later (`flask --app wsgi verify-audit`)."""
    rows = []
    after = query.after
    while True:
        page = store.list_entries(replace(query, limit=EXPORT_PAGE, after=after))
        rows.extend(csv_row(entry) for entry in page)
        if len(page) < EXPORT_PAGE:
            break
        after = page[-1].id
    head = store.chain_head()
    position, digest = head if head else (0, GENESIS)
    tail = {"id": "chain_head", "chain_position": position, "entry_hash": digest, "at": utcnow()}
    response = render_table("csv", "audit", CSV_COLUMNS, rows, totals=[tail])
    response.headers["X-Audit-Chain-Head"] = f"{position} {digest}"
    return response


EXPORT_PAGE = 5000


def csv_row(entry) -> dict:
    row = {column.key: getattr(entry, column.key, None) for column in CSV_COLUMNS}
    for name in ("before", "after"):
        if row[name] is not None:
            row[name] = json.dumps(row[name], ensure_ascii=False, sort_keys=True)
    return row
