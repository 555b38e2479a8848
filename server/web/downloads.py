"""The dashboard's CSV and Excel downloads, for a page session.

The API's downloads (``?format=csv|xlsx`` on the reports and delays) need a Bearer token a
browser link cannot send, so the pages serve the same files here: the same store queries,
the same report arithmetic and the same appendix tables and renderer as the API.
"""

from __future__ import annotations

from flask import abort, request

from server.clock import today
from server.delays.views import EXPORT_COLUMNS
from server.exports import FORMATS, render_table
from server.replica import read_on_replica
from server.reports import figures, tables
from server.reports.views import answer
from server.store import delays as delay_store
from server.store import reports as report_store
from server.web import blp
from server.web.dashboard import delay_query, read_as_of, read_unit, read_year
from server.web.sessions import page_scope, require_page
from sync.lifecycles import READ_DASHBOARD, roles_for


def read_format() -> str:
    fmt = request.args.get("format", "csv")
    if fmt not in FORMATS:
        abort(404)
    return fmt


@blp.route("/downloads/exit-registrations")
@require_page(*roles_for(READ_DASHBOARD))
@read_on_replica
def download_exit_registrations():
    scope, year = page_scope(), read_year()
    rows = report_store.count_exit_registrations(year, scope, None)
    report = figures.build_exit_report(year, None, rows, scope.level == "province")
    return answer(report, read_format(), tables.exit_registrations_appendix, f"dang-ky-thoat-ngheo-{year}")


@blp.route("/downloads/payouts")
@require_page(*roles_for(READ_DASHBOARD))
@read_on_replica
def download_payouts():
    year, as_of = read_year(), today()
    report = figures.build_payout_report(
        year, as_of, report_store.sum_payouts(year, page_scope(), as_of, None)
    )
    return answer(report, read_format(), tables.payouts_appendix, f"chi-tra-{year}-{as_of.isoformat()}")


@blp.route("/downloads/delays")
@require_page(*roles_for(READ_DASHBOARD))
@read_on_replica
def download_delays():
    query = delay_query(read_as_of(), request.args.get("kind") or None, read_unit(request.args.get("unit")))
    items = delay_store.list_delays(query)
    return render_table(
        read_format(), f"delays-{query.as_of.isoformat()}", EXPORT_COLUMNS, items, sheet="delays"
    )
