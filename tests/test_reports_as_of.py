"""The exit-registrations table on any day: ``as_of`` counts what was approved by its end.

The day ends at midnight in the programme's time zone (Asia/Ho_Chi_Minh, UTC+7), so an
approval at 00:10 on 1 July in Quảng Nam - still 30 June in UTC - is not in the table of
30 June.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook

from server.extensions import db
from tests import factories as f

URL = "/api/v1/reports/exit-registrations"
VN = timezone(timedelta(hours=7))
TRA_DOC = "20920"  # a commune of Bắc Trà My (515)


def approve_on(app, moment: datetime, kind: str = "exit_poverty", members: int = 4) -> str:
    """A household of Trà Đốc and its registration approved at ``moment``; the household id."""
    with app.app_context():
        hid = f.put("households", f.household(TRA_DOC, members=members))
        f.put(
            "registrations",
            f.registration(hid, kind=kind, members=members, status="approved", decided_at=moment.isoformat()),
            commune_code=TRA_DOC,
        )
    return hid


def delete_household(app, household_id: str, moment: datetime) -> None:
    with app.app_context():
        f.put("households", f.household(TRA_DOC), record_id=household_id, version=2, at=moment, deleted=True)
        db.session.remove()


def bac_tra_my(client, headers, **query) -> dict:
    resp = client.get(URL, query_string={"year": 2020, **query}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return next(d for d in resp.get_json()["districts"] if d["code"] == "515")["poor"]


def test_an_approval_the_day_after_as_of_is_not_counted(app, client, auth):
    approve_on(app, datetime(2020, 6, 30, 23, 30, tzinfo=VN))
    approve_on(app, datetime(2020, 7, 1, 0, 10, tzinfo=VN), members=6)  # 30 June, 17:10 UTC
    headers = auth.headers("supervisor")

    assert bac_tra_my(client, headers, as_of="2020-06-30")["households"] == 1
    assert bac_tra_my(client, headers, as_of="2020-06-30")["persons"] == 4
    assert bac_tra_my(client, headers, as_of="2020-07-01")["households"] == 2
    assert bac_tra_my(client, headers, as_of="2020-06-29")["households"] == 0
    assert bac_tra_my(client, headers)["households"] == 2  # without as_of: every approval so far


def test_a_household_deleted_after_as_of_still_counts_that_day(app, client, auth):
    kept = approve_on(app, datetime(2020, 5, 10, 9, 0, tzinfo=VN))
    early = approve_on(app, datetime(2020, 5, 10, 9, 0, tzinfo=VN))
    delete_household(app, kept, datetime(2020, 8, 2, 8, 0, tzinfo=VN))
    delete_household(app, early, datetime(2020, 6, 20, 8, 0, tzinfo=VN))
    headers = auth.headers("supervisor")

    assert bac_tra_my(client, headers, as_of="2020-06-30")["households"] == 1  # only the one deleted later
    assert bac_tra_my(client, headers, as_of="2020-06-15")["households"] == 2  # neither deleted yet
    assert bac_tra_my(client, headers)["households"] == 0  # today both are gone


def test_the_as_of_day_is_in_the_answer_and_in_the_download_title(app, client, auth):
    approve_on(app, datetime(2020, 6, 1, 9, 0, tzinfo=VN))
    headers = auth.headers("supervisor")

    resp = client.get(URL, query_string={"year": 2020, "as_of": "2020-10-08"}, headers=headers)
    assert resp.get_json()["as_of"] == "2020-10-08"
    xlsx = client.get(
        URL, query_string={"year": 2020, "as_of": "2020-10-08", "format": "xlsx"}, headers=headers
    )
    assert "2020-10-08" in xlsx.headers["Content-Disposition"]
    title = load_workbook(io.BytesIO(xlsx.data)).active["A1"].value
    assert title == "Kết quả đăng ký thoát nghèo bền vững năm 2020 (tính đến ngày 08/10/2020)"
    assert client.get(URL, query_string={"year": 2020}, headers=headers).get_json()["as_of"] is None
