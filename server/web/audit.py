"""The audit trail of any record in the user's units, read from the audit store."""

from __future__ import annotations

import uuid

from flask import abort, render_template, request

from server.replica import read_on_replica
from server.store import audit as audit_store
from server.store.sync import SqlStore
from server.web import blp
from server.web.sessions import page_scope, require_page
from sync.lifecycles import READ_AUDIT_PAGE, roles_for
from sync.records import ENTITIES

HISTORY_LIMIT = 1000  # a record's whole life is a few dozen entries


def list_history(entity: str, record_id: str) -> list:
    """The trail of one record, oldest first, inside the user's units."""
    return audit_store.list_entries(
        audit_store.AuditFilter(scope=page_scope(), limit=HISTORY_LIMIT, entity=entity, record_id=record_id)
    )


@blp.route("/audit")
@require_page(*roles_for(READ_AUDIT_PAGE))
@read_on_replica
def audit():
    """``?entity=&id=``: the record's trail, if it lies in the user's units."""
    entity = request.args.get("entity") or ""
    record_id = (request.args.get("id") or "").strip().lower()
    history = None
    if entity and record_id:
        try:
            record_id = str(uuid.UUID(record_id))
        except ValueError:
            abort(404)
        if entity not in ENTITIES:
            abort(404)
        record = SqlStore().get_record(entity, record_id)
        if record is None or not page_scope().covers(record.commune_code, record.district_code):
            abort(404)
        history = list_history(entity, record_id)
    return render_template(
        "web/audit.html", entities=ENTITIES, entity=entity, record_id=record_id, history=history
    )
