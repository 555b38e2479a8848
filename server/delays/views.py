"""``/api/v1/delays``: what was late on a day - payouts, approvals, support, silent collaborators.

Who may ask: commune officials (their commune), district officers (their district),
supervisors and admins (the province). Collaborators are refused (403): the audit is about
them, and they see their own work on the phone.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.delays import DelayQuerySchema, DelayReportSchema
from server.auth.current import current_scope, requested_unit, require_roles
from server.clock import today
from server.exports import Column, render_table
from server.scope import Scope
from server.store import delays as store
from server.store import units as unit_store
from sync.delays import KINDS

blp = Blueprint("delays", __name__, url_prefix="/api/v1", description="Delay audit")

AUDITORS = ("commune_official", "district_officer", "supervisor", "admin")
WORST_FIELDS = ("kind", "entity", "id", "due_date", "days_overdue")
EXPORT_COLUMNS = [
    Column(name)
    for name in (
        "kind",
        "entity",
        "id",
        "household_id",
        "district_code",
        "commune_code",
        "due_date",
        "days_overdue",
        "status",
        "amount_vnd",
    )
]


@blp.route("/delays")
class Delays(MethodView):
    @blp.arguments(DelayQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, DelayReportSchema)
    @require_roles(*AUDITORS)
    def get(self, args):
        """Late payouts, approvals, support items and silent collaborators on ``as_of``.

        Most overdue first, with a per-district summary. A past day is answered from the
        versions kept; ``format=csv|xlsx`` returns the items as a file.
        """
        scope = current_scope()
        unit = requested_unit(args["unit"])
        config = current_app.config
        query = store.DelayQuery(
            as_of=args["as_of"],
            kinds=tuple(k for k in KINDS if k in (args["kind"] or KINDS)),
            scope=scope,
            unit=unit,
            approval_days=int(config["APPROVAL_OVERDUE_DAYS"]),
            silent_days=int(config["COLLABORATOR_SILENT_DAYS"]),
            zone=config["TIMEZONE"],
            from_versions=args["as_of"] < today(),
        )
        wants_json = args["format"] == "json"
        items, by_district = store.find_delays(query, summarise=wants_json)
        if not wants_json:
            name = f"delays-{query.as_of.isoformat()}"
            return render_table(args["format"], name, EXPORT_COLUMNS, items, sheet="delays")
        return {
            "as_of": query.as_of,
            "thresholds": {
                "approval_overdue_days": query.approval_days,
                "collaborator_silent_days": query.silent_days,
            },
            "items": items,
            "summary": summarise(query.kinds, items, by_district, unit or scope),
        }


def summarise(kinds: tuple[str, ...], items: list[dict], by_district: dict, area: Scope) -> dict:
    """Totals over the items, and the figures of every district of the area asked about."""
    districts = []
    for unit in districts_of(area):
        figures = by_district.get(unit.code) or {
            "total": 0,
            "counts": {},
            "overdue_payout_vnd": 0,
            "worst": None,
        }
        counts = {kind: figures["counts"].get(kind, 0) for kind in kinds}
        districts.append({"code": unit.code, "name": unit.name, **figures, "counts": counts})
    counts = {kind: sum(f["counts"].get(kind, 0) for f in by_district.values()) for kind in kinds}
    return {
        "total": len(items),
        "counts": counts,
        "overdue_payout_vnd": sum(f["overdue_payout_vnd"] for f in by_district.values()),
        "worst": {k: items[0][k] for k in WORST_FIELDS} if items else None,
        "districts": districts,
    }


def districts_of(area: Scope) -> list:
    """The districts a summary lists: all of the province, one district, or a commune's."""
    if area.level == "province":
        return unit_store.list_units("district")
    unit = unit_store.get_unit(area.unit_code)
    if area.level == "commune":
        unit = unit_store.get_unit(unit.parent_code)
    return [unit]
