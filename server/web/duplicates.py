"""Possible duplicates of the commune: both households side by side, settled distinct or same."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for

from server.clock import utcnow
from server.store import duplicates as duplicate_store
from server.store.sync import SqlStore
from server.transactions import run_engine
from server.web import blp
from server.web.language import t
from server.web.sessions import page_actor, page_scope, require_page
from sync.duplicates import DECISIONS, SAME
from sync.engine import settle_duplicate
from sync.errors import ForbiddenError, NotFoundError, SyncError
from sync.lifecycles import SETTLE_DUPLICATES, roles_for
from sync.records import HOUSEHOLDS

#: What the official compares, in this order.
SHOWN_FIELDS = ("code", "head_name", "village", "members", "phone", "category")


@blp.route("/duplicates")
@require_page(*roles_for(SETTLE_DUPLICATES))
def duplicates():
    """Every open possible duplicate in the user's units, oldest first."""
    store = SqlStore()
    items = []
    for case in duplicate_store.list_open_cases(page_scope()):
        households = [store.get_record(HOUSEHOLDS, household_id) for household_id in case.households]
        items.append({"case": case, "households": [h for h in households if h is not None]})
    return render_template("web/duplicates.html", items=items, fields=SHOWN_FIELDS)


@blp.route("/duplicates/<case_id>/settle", methods=["POST"])
@require_page(*roles_for(SETTLE_DUPLICATES))
def settle(case_id: str):
    """Distinct, or the same household (the one chosen kept, the other's records moved to it)."""
    decision = request.form.get("decision", "")
    if decision not in DECISIONS:
        abort(400)
    keep = request.form.get("keep") if decision == SAME else None
    actor = page_actor()
    try:
        run_engine(lambda store: settle_duplicate(store, actor, case_id, decision, keep or None, utcnow()))
    except (NotFoundError, ForbiddenError) as refusal:
        abort(404 if isinstance(refusal, NotFoundError) else 403)
    except SyncError as refusal:
        details = json.dumps(refusal.details, ensure_ascii=False) if refusal.details else ""
        flash(t("write.refused", message=f"{refusal.message} {details}".strip()), "error")
        return redirect(url_for("pages.duplicates"))
    flash(t(f"duplicates.done_{decision}"))
    return redirect(url_for("pages.duplicates"))
