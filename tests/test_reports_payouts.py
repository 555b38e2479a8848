"""The payouts report: what was scheduled, paid, confirmed and is late, per district.

"Chi trả chính sách còn chậm, chưa kịp thời" - payouts are late - is the seed report's main
complaint; this table shows by how much, today or on any past day.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from server.clock import today
from tests import factories as f

URL = "/api/v1/reports/payouts"
TRA_DOC, TAN_THANH = "20920", "20335"  # communes of Bắc Trà My (515) and Tam Kỳ (502)
MILLION = 1_000_000


@pytest.fixture
def payouts_today(app):
    """Payouts of 2020 households in two districts, dated around today."""
    with app.app_context():
        now = today()

        def day(offset: int) -> str:
            return (now + timedelta(days=offset)).isoformat()

        hid = f.put("households", f.household(TRA_DOC))
        gone = f.put("households", f.household(TRA_DOC), deleted=True)
        rows = [
            {"status": "pending", "due_date": day(-10), "amount_vnd": 1 * MILLION},  # 10 days late
            {"status": "approved", "due_date": day(-3), "amount_vnd": 2 * MILLION},  # 3 days late
            {"status": "approved", "due_date": day(0), "amount_vnd": 4 * MILLION},  # due today: not late
            {"status": "disbursed", "due_date": day(-20), "disbursed_on": day(-5), "amount_vnd": 8 * MILLION},
            {
                "status": "confirmed",
                "due_date": day(-20),
                "disbursed_on": day(-19),
                "confirmed_on": day(-2),
                "amount_vnd": 16 * MILLION,
            },
            {"status": "cancelled", "due_date": day(-30), "amount_vnd": 32 * MILLION},
            {"status": "pending", "due_date": day(-40), "recognized_year": 2019, "amount_vnd": 64 * MILLION},
        ]
        f.put_many("payouts", [f.payout(hid, **row) for row in rows], [TRA_DOC] * len(rows))
        f.put("payouts", f.payout(hid, due_date=day(-50)), deleted=True, commune_code=TRA_DOC)
        f.put("payouts", f.payout(gone, due_date=day(-50)), commune_code=TRA_DOC)
        tam_ky = f.put("households", f.household(TAN_THANH))
        f.put("payouts", f.payout(tam_ky, due_date=day(-7), amount_vnd=3 * MILLION), commune_code=TAN_THANH)


def district(report: dict, code: str) -> dict:
    return next(d for d in report["districts"] if d["code"] == code)


def programme_today(app) -> date:
    with app.app_context():
        return today()


def test_payouts_today_per_district_with_days_late(app, client, auth, payouts_today):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers("supervisor"))

    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["as_of"] == programme_today(app).isoformat() and len(report["districts"]) == 18
    assert district(report, "515") == {
        "code": "515",
        "name": "Huyện Bắc Trà My",
        "scheduled": {"count": 5, "vnd": 31 * MILLION},
        "disbursed": {"count": 2, "vnd": 24 * MILLION},
        "confirmed": {"count": 1, "vnd": 16 * MILLION},
        "overdue": {"count": 2, "vnd": 3 * MILLION},
        "median_days_late": 6.5,
        "worst_days_late": 10,
    }
    assert district(report, "502")["overdue"] == {"count": 1, "vnd": 3 * MILLION}
    assert district(report, "519")["median_days_late"] is None
    totals = report["totals"]
    assert totals["overdue"] == {"count": 3, "vnd": 6 * MILLION}
    assert totals["scheduled"] == {"count": 6, "vnd": 34 * MILLION}
    assert (totals["median_days_late"], totals["worst_days_late"]) == (7.0, 10)  # of 3, 7 and 10 days


def test_a_district_officer_sees_their_payouts_only(client, auth, payouts_today):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers("district_officer", "502"))

    report = resp.get_json()
    assert [d["code"] for d in report["districts"]] == ["502"]
    assert report["totals"]["overdue"] == {"count": 1, "vnd": 3 * MILLION}
    assert (report["totals"]["median_days_late"], report["totals"]["worst_days_late"]) == (7.0, 7)


def test_payouts_download_as_csv_and_xlsx_with_the_same_numbers(client, auth, payouts_today):
    headers = auth.headers("supervisor")
    report = client.get(URL, query_string={"year": 2020}, headers=headers).get_json()
    expected = [
        [d["code"], d["scheduled"]["count"], d["overdue"]["vnd"], d["worst_days_late"]]
        for d in report["districts"]
    ]

    body = client.get(URL, query_string={"year": 2020, "format": "csv"}, headers=headers).data
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert lines[0][3] == "Theo kế hoạch - Số khoản"
    got = [[r[1], int(r[3]), int(r[10]), int(r[12]) if r[12] else None] for r in lines[1:-1]]
    assert got == expected
    assert lines[-1][2] == "Tổng cộng" and lines[-1][9:] == ["3", "6000000", "7.0", "10"]

    ws = load_workbook(
        io.BytesIO(client.get(URL, query_string={"year": 2020, "format": "xlsx"}, headers=headers).data)
    ).active
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5)]
    assert [[r[1], r[3], r[10], r[12]] for r in rows[:-1]] == expected
    assert rows[-1][2] == "Tổng cộng" and rows[-1][9:] == [3, 6 * MILLION, 7, 10]


def test_a_past_day_is_answered_from_the_versions_kept(app, client, auth):
    """A payout due 30 September and paid on 14 October was one day late on 1 October."""
    with app.app_context():
        hid = f.put("households", f.household(TRA_DOC))
        pid = f.put("payouts", f.payout(hid, due_date="2020-09-30"), commune_code=TRA_DOC)
        paid = f.payout(hid, due_date="2020-09-30", status="disbursed", disbursed_on="2020-10-14")
        f.put(
            "payouts",
            paid,
            record_id=pid,
            version=2,
            at=datetime(2020, 10, 15, 2, 0, tzinfo=UTC),
            commune_code=TRA_DOC,
        )
        later = f.payout(hid, due_date="2020-09-01")
        f.put("payouts", later, at=datetime(2020, 11, 1, 2, 0, tzinfo=UTC), commune_code=TRA_DOC)
    headers = auth.headers("supervisor")

    def bac_tra_my(as_of: str) -> dict:
        resp = client.get(URL, query_string={"year": 2020, "as_of": as_of}, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return district(resp.get_json(), "515")

    assert bac_tra_my("2020-09-30")["overdue"]["count"] == 0  # the due date itself is not late
    on_first = bac_tra_my("2020-10-01")
    assert on_first["overdue"] == {"count": 1, "vnd": 5 * MILLION} and on_first["worst_days_late"] == 1
    on_twentieth = bac_tra_my("2020-10-20")
    assert on_twentieth["overdue"]["count"] == 0 and on_twentieth["disbursed"]["count"] == 1
    assert on_twentieth["scheduled"]["count"] == 1  # the payout entered in November did not exist yet
    now = bac_tra_my(programme_today(app).isoformat())
    assert now["scheduled"]["count"] == 2 and now["overdue"]["count"] == 1


@pytest.mark.parametrize("role", ["collaborator", "commune_official"])
def test_commune_users_get_no_payout_report(client, auth, role):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers(role))

    assert resp.status_code == 403


@pytest.mark.parametrize(
    "days_late, median",
    [([1, 1, 1, 5], 1.0), ([1, 5, 5, 9], 5.0), ([2, 4], 3.0), ([3, 12, 40], 12.0), ([7], 7.0)],
)
def test_the_median_of_days_late(app, client, auth, days_late, median):
    with app.app_context():
        now = today()
        hid = f.put("households", f.household(TRA_DOC))
        late = [f.payout(hid, due_date=(now - timedelta(days=d)).isoformat()) for d in days_late]
        f.put_many("payouts", late, [TRA_DOC] * len(late))

    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers("supervisor"))

    report = resp.get_json()
    assert district(report, "515")["median_days_late"] == median
    assert report["totals"]["median_days_late"] == median
    assert district(report, "515")["worst_days_late"] == max(days_late)


def test_a_payout_deleted_after_as_of_still_counts_that_day(app, client, auth):
    with app.app_context():
        hid = f.put("households", f.household(TRA_DOC))
        pid = f.put("payouts", f.payout(hid, due_date="2020-09-30"), commune_code=TRA_DOC)
        gone = datetime(2020, 11, 1, 2, 0, tzinfo=UTC)
        f.put("payouts", f.payout(hid), record_id=pid, version=2, at=gone, deleted=True, commune_code=TRA_DOC)
    headers = auth.headers("supervisor")

    def overdue(**query) -> dict:
        resp = client.get(URL, query_string={"year": 2020, **query}, headers=headers)
        return district(resp.get_json(), "515")["overdue"]

    assert overdue(as_of="2020-10-31") == {"count": 1, "vnd": 5 * MILLION}
    assert overdue(as_of="2020-11-01")["count"] == 0  # deleted at 09:00 that day
    assert overdue()["count"] == 0
