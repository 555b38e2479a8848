"""``/api/v1/reports``: the provincial department's tables, on any day, as JSON, CSV or XLSX.

Who sees what: a supervisor or an admin of the province gets every district; a district
officer gets their own district's row, and totals of it. The reports are tables of
districts measured against district quotas, which a commune does not have: commune users
(and collaborators) are refused with 403 - their own records are in the list endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.reports import ExitRegistrationReport, PayoutReport, ReportQuery
from server.auth.current import current_scope, require_roles
from server.clock import programme_zone, today
from server.errors import APIError
from server.exports import CSV_MIMETYPE, XLSX_MIMETYPE, render_table
from server.replica import read_on_replica
from server.reports import figures, tables
from server.store import reports as store
from sync.actors import Scope
from sync.lifecycles import READ_REPORTS, roles_for

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Per-district report tables")


def document_downloads(view):
    """Document the CSV and XLSX bodies a report also answers with (same status, other types)."""
    view = blp.alt_response(
        200, schema={"type": "string", "format": "binary"}, content_type=XLSX_MIMETYPE, success=True
    )(view)
    return blp.alt_response(
        200, schema={"type": "string"}, content_type=CSV_MIMETYPE, success=True, description="The report"
    )(view)


def report_scope() -> Scope:
    """The caller's scope, refused when it is a commune's (see the module docstring)."""
    scope = current_scope()
    if scope.level == "commune":
        raise APIError(
            "forbidden",
            "The reports are district tables; commune users see their records in the list endpoints.",
        )
    return scope


def cutoff_after(day: date) -> datetime:
    """The first instant after ``day`` in the programme's time zone (midnight that ends it)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=programme_zone())


def answer(report: dict, fmt: str, appendix: Callable[[dict], tables.Appendix], filename: str):
    """The report as JSON (through the response schema) or as a CSV / XLSX download."""
    if fmt == "json":
        return report
    table = appendix(report)
    return render_table(
        fmt, filename, table.columns, table.rows, table.sheet, title=table.title, totals=table.totals
    )


@blp.route("/exit-registrations")
class ExitRegistrations(MethodView):
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, ExitRegistrationReport)
    @document_downloads
    @blp.alt_response(403, description="forbidden: collaborators and commune users")
    @require_roles(*roles_for(READ_REPORTS))
    @read_on_replica
    def get(self, args):
        """Approved exit registrations of a year per district, against quotas and targets.

        Appendices 01-04 of the department's report. ``as_of`` counts only the approvals
        made by the end of that day; ``format=csv|xlsx`` downloads the table.
        """
        scope, as_of = report_scope(), args.get("as_of")
        rows = store.count_exit_registrations(args["year"], scope, cutoff_after(as_of) if as_of else None)
        report = figures.build_exit_report(args["year"], as_of, rows, scope.level == "province")
        name = f"dang-ky-thoat-ngheo-{args['year']}" + (f"-{as_of.isoformat()}" if as_of else "")
        return answer(report, args["format"], tables.exit_registrations_appendix, name)


@blp.route("/payouts")
class Payouts(MethodView):
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, PayoutReport)
    @document_downloads
    @blp.alt_response(403, description="forbidden: collaborators and commune users")
    @require_roles(*roles_for(READ_REPORTS))
    @read_on_replica
    def get(self, args):
        """Incentive payouts of households recognised in a year, per district, and how late.

        Overdue is the contract's ``payout_overdue`` on ``as_of`` (default today): a past
        day is answered from the versions kept, today or later from the current records.
        """
        scope, as_of = report_scope(), args.get("as_of") or today()
        cutoff = cutoff_after(as_of) if as_of < today() else None
        rows = store.sum_payouts(args["year"], scope, as_of, cutoff)
        report = figures.build_payout_report(args["year"], as_of, rows)
        name = f"chi-tra-{args['year']}-{as_of.isoformat()}"
        return answer(report, args["format"], tables.payouts_appendix, name)
