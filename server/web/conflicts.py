"""Open conflicts of the user's units, both values side by side, and the three resolutions."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from schemas.records import validate_record
from server.clock import utcnow
from server.store.sync import SqlStore
from server.transactions import run_engine
from server.web import blp
from server.web.language import t
from server.web.sessions import page_actor, page_scope, require_page
from sync.conflicts import RESOLUTIONS
from sync.engine import resolve_conflict
from sync.errors import ForbiddenError, NotFoundError, SyncError
from sync.lifecycles import RESOLVE, roles_for
from sync.records import Conflict, Record

TRUE_WORDS = {"yes", "true", "1", "có", "co", "x"}
FALSE_WORDS = {"no", "false", "0", "không", "khong", ""}


def describe(store: SqlStore, entity: str, record: Record | None) -> dict[str, Any]:
    """What a person recognises a record by: its household's code and head, and a link."""
    if record is None:
        return {"label": "", "url": None}
    if entity == "households":
        household = record
    else:
        household = store.get_record("households", record.data.get("household_id"))
    label = f"{household.data.get('code')} — {household.data.get('head_name')}" if household else record.id
    if entity == "registrations":
        url = url_for("pages.registration", registration_id=record.id)
    elif household is not None:
        url = url_for("pages.household", household_id=household.id)
    else:
        url = None
    return {"label": label, "url": url}


@blp.route("/conflicts")
@require_page(*roles_for(RESOLVE))
def conflicts():
    """Every open conflict in the user's units, oldest first."""
    store = SqlStore()
    items = []
    for conflict in store.list_conflicts(page_scope(), status="open"):
        record = store.get_record(conflict.entity, conflict.record_id)
        items.append(
            {
                "conflict": conflict,
                "record": record,
                "about": describe(store, conflict.entity, record),
                "custom_allowed": "deleted" not in conflict.fields,
            }
        )
    return render_template("web/conflicts.html", items=items)


def read_custom_value(sides: dict[str, Any], text: str) -> Any:
    """A typed value from what the official typed, shaped like the values in conflict."""
    values = (sides.get("server"), sides.get("device"), sides.get("base"))
    sample = next((v for v in values if v is not None), None)
    text = text.strip()
    if isinstance(sample, bool):
        word = text.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        return text  # the validator names the field
    if isinstance(sample, int):
        try:
            return int(text.replace(".", "").replace(",", ""))
        except ValueError:
            return text
    if isinstance(sample, float):
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return text
    if isinstance(sample, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text or None


def read_custom_data(conflict: Conflict) -> dict[str, Any]:
    """Per field: the server's value, the device's, or the value typed in."""
    data = {}
    for name, sides in conflict.fields.items():
        pick = request.form.get(f"pick_{name}", "server")
        if pick == "device":
            data[name] = sides["device"]
        elif pick == "other":
            data[name] = read_custom_value(sides, request.form.get(f"value_{name}", ""))
        else:
            data[name] = sides["server"]
    return data


@blp.route("/conflicts/<conflict_id>/resolve", methods=["POST"])
@require_page(*roles_for(RESOLVE))
def resolve(conflict_id: str):
    """Keep the server's values, take the device's, or choose field by field."""
    resolution = request.form.get("resolution", "")
    if resolution not in RESOLUTIONS:
        abort(400)
    actor = page_actor()
    data = None
    if resolution == "custom":
        conflict = SqlStore().get_conflict(conflict_id)
        if conflict is None:
            abort(404)
        data = read_custom_data(conflict)
    try:
        run_engine(
            lambda store: resolve_conflict(
                store, actor, conflict_id, resolution, data, utcnow(), validate_record
            )
        )
    except (NotFoundError, ForbiddenError) as refusal:
        abort(404 if isinstance(refusal, NotFoundError) else 403)
    except SyncError as refusal:
        details = json.dumps(refusal.details, ensure_ascii=False) if refusal.details else ""
        flash(t("write.refused", message=f"{refusal.message} {details}".strip()), "error")
        return redirect(url_for("pages.conflicts"))
    flash(t("resolution.done"))
    return redirect(url_for("pages.conflicts"))
