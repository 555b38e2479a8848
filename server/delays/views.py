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
from server.pages import decode_cursor, encode_cursor
from server.replica import read_on_replica
from server.store import delays as store
from server.store import units as unit_store
from sync.actors import Scope
from sync.delays import KINDS
from sync.lifecycles import READ_AUDIT, roles_for

blp = Blueprint("delays", __name__, url_prefix="/api/v1", description="Delay audit")

EXPORT_COLUMNS = [Column(name) for name in store.ITEM_COLUMNS]


@blp.route("/delays")
class Delays(MethodView):
    @blp.arguments(DelayQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, DelayReportSchema)
    @require_roles(*roles_for(READ_AUDIT))
    @read_on_replica
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
        if args["format"] != "json":
            name = f"delays-{query.as_of.isoformat()}"
            items = store.list_delays(query)
            return render_table(args["format"], name, EXPORT_COLUMNS, items, sheet="delays")
        # A cursor names an offset into this very question's list: it is salted with the
        # question, so a cursor of another day, kind or unit is refused (422).
        asked = (query.as_of.isoformat(), ",".join(query.kinds), unit.code if unit else "")
        list_name = "delays:" + ":".join(asked)
        offset = decode_cursor(list_name, args["cursor"], int) or 0
        limit = args["limit"]
        page, by_district = store.page_of_delays(query, limit=limit + 1, offset=offset)
        more = len(page) > limit
        return {
            "as_of": query.as_of,
            "thresholds": {
                "approval_overdue_days": query.approval_days,
                "collaborator_silent_days": query.silent_days,
            },
            "items": page[:limit],
            "cursor": encode_cursor(list_name, offset + limit) if more else None,
            "summary": summarise(query.kinds, by_district, unit or scope),
        }


def summarise(kinds: tuple[str, ...], by_district: dict, area: Scope) -> dict:
    """Totals over every late item (not only one page), and each district of the area."""
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
        "total": sum(f["total"] for f in by_district.values()),
        "counts": counts,
        "overdue_payout_vnd": sum(f["overdue_payout_vnd"] for f in by_district.values()),
        "worst": store.worst_of(by_district),
        "districts": districts,
    }


def districts_of(area: Scope) -> list:
    """The districts a summary lists: all of the province, one district, or a commune's."""
    if area.level == "province":
        return unit_store.list_units("district")
    unit = unit_store.get_unit(area.code)
    if area.level == "commune":
        unit = unit_store.get_unit(unit.parent_code)
    return [unit]
