"""The supervisor's dashboard: the quota table of the report's appendix with a bar per
district, the delay audit (filtered, sortable, most overdue first, VND outstanding), and
collaborator activity (silent first). A district officer gets the same page for their district.

Every number comes from the store functions behind ``/api/v1/reports``, ``/api/v1/delays``
and ``/api/v1/activity``: the page shows the API's figures, never a second computation.
"""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, render_template, request

from server.auth.current import unit_within
from server.clock import today
from server.delays.views import summarise
from server.replica import read_on_replica
from server.reports import figures
from server.store import activity as activity_store
from server.store import delays as delay_store
from server.store import plans as plan_store
from server.store import reports as report_store
from server.store import units as unit_store
from server.store.calendar import end_of_day
from server.web import blp
from server.web.sessions import page_scope, require_page
from sync.actors import Scope
from sync.delays import KINDS
from sync.lifecycles import READ_DASHBOARD, roles_for

ROWS = 20  # rows of a list shown at first; "show all" raises it to MAX_ROWS
MAX_ROWS = 1000  # beyond this, the downloads hold every item


def read_year() -> int:
    """``?year=``, else the latest year with quotas, else this year."""
    try:
        return int(request.args["year"])
    except (KeyError, ValueError):
        years = unit_store.list_quota_years()
        return years[0] if years else today().year


def read_as_of() -> date:
    try:
        return date.fromisoformat(request.args.get("as_of", ""))
    except ValueError:
        return today()


def read_unit(code: str | None) -> Scope | None:
    """A district (or commune) to narrow to; 404 when it is not inside the user's units."""
    if not code:
        return None
    return unit_within(page_scope(), code)


def read_rows(name: str) -> int:
    return MAX_ROWS if request.args.get(name) == "all" else ROWS


def delay_query(as_of: date, kind: str | None, unit: Scope | None) -> delay_store.DelayQuery:
    """The same question ``GET /api/v1/delays`` asks, from the page's filters."""
    config = current_app.config
    if kind and kind not in KINDS:
        abort(404)
    return delay_store.DelayQuery(
        as_of=as_of,
        kinds=(kind,) if kind else KINDS,
        scope=page_scope(),
        unit=unit,
        approval_days=int(config["APPROVAL_OVERDUE_DAYS"]),
        silent_days=int(config["COLLABORATOR_SILENT_DAYS"]),
        zone=config["TIMEZONE"],
        from_versions=as_of < today(),
    )


def quota_bars(report: dict) -> float:
    """The scale of the bars: 100 % of quota, or the largest district's share if above."""
    shares = [float(d["poor"]["pct_of_quota"] or 0) for d in report["districts"]]
    return max([100.0, *shares])


@blp.route("/dashboard")
@require_page(*roles_for(READ_DASHBOARD))
@read_on_replica
def dashboard():
    scope = page_scope()
    year, as_of = read_year(), read_as_of()
    kind = request.args.get("kind") or None
    unit = read_unit(request.args.get("unit"))
    rows = report_store.count_exit_registrations(year, scope, None)
    report = figures.build_exit_report(year, None, rows, scope.level == "province")

    query = delay_query(as_of, kind, unit)
    sort, direction = request.args.get("sort", "days_overdue"), request.args.get("dir", "desc")
    if sort not in delay_store.SORT_KEYS:
        sort, direction = "days_overdue", "desc"
    shown, by_district = delay_store.page_of_delays(
        query, limit=read_rows("delay_rows"), sort=sort, descending=direction == "desc"
    )
    summary = summarise(query.kinds, by_district, unit or scope)
    labels = plan_store.get_household_labels([i["household_id"] for i in shown if i["household_id"]])

    config = current_app.config
    activity = activity_store.list_activity(
        activity_store.ActivityQuery(
            as_of=as_of,
            cutoff=end_of_day(as_of, config["TIMEZONE"]),
            from_history=as_of < today(),
            scope=scope,
            unit=unit,
            silent_days=int(config["COLLABORATOR_SILENT_DAYS"]),
            zone=config["TIMEZONE"],
        )
    )
    districts = [
        d for d in unit_store.list_units("district") if scope.covers_unit(d.code, d.level, d.parent_code)
    ]
    return render_template(
        "web/dashboard.html",
        scope=scope,
        year=year,
        years=unit_store.list_quota_years() or [year],
        report=report,
        scale=quota_bars(report),
        as_of=as_of,
        kinds=KINDS,
        kind=kind,
        unit=unit.code if unit else "",
        districts=districts,
        names={u.code: u.name for u in unit_store.list_units()},
        items=shown,
        total_items=summary["total"],
        summary=summary,
        labels=labels,
        sort=sort,
        direction=direction,
        activity=activity[: read_rows("activity_rows")],
        total_activity=len(activity),
    )
