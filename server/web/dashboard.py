"""The supervisor's dashboard (quota table, delay audit, collaborator activity, downloads)
and the audit trail of any record.

TODO(web): the quota table, delays and activity read the reports / delays / activity store
functions being built in parallel; they are wired in as those land on main.
"""

from __future__ import annotations

from flask import abort, render_template, request

from server.store import approvals as approval_store
from server.store.sync import SqlStore
from server.web import blp
from server.web.sessions import page_scope, require_page
from sync.records import ENTITIES

VIEWERS = ("district_officer", "supervisor", "admin")


@blp.route("/dashboard")
@require_page(*VIEWERS)
def dashboard():
    return render_template("web/dashboard.html")


@blp.route("/audit")
@require_page(*VIEWERS)
def audit():
    """The trail of one record (``?entity=&id=``), if it lies in the user's units."""
    entity = request.args.get("entity") or ""
    record_id = (request.args.get("id") or "").strip().lower()
    history = None
    if entity and record_id:
        if entity not in ENTITIES:
            abort(404)
        record = SqlStore().get_record(entity, record_id)
        if record is None or not page_scope().covers(record.commune_code, record.district_code):
            abort(404)
        history = approval_store.list_record_history(entity, record_id)
    return render_template(
        "web/audit.html", entities=ENTITIES, entity=entity, record_id=record_id, history=history
    )
