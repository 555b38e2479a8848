"""The exit-registrations report reproduces report 176/BC-LĐTBXH (Quảng Nam, 2020).

A year is built whose approved registrations are the seed report's own figures, buried in
noise the report must ignore: rejected, returned and pending forms, last year's approvals,
approvals of deleted households, a deleted registration and a household approved twice.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from server.cli import DATA, load_quotas_file
from server.extensions import db
from server.models import Unit
from tests import factories as f

URL = "/api/v1/reports/exit-registrations"
# Poor households approved per district: the three the report names exceed their quota
# (Phước Sơn 317/250, Bắc Trà My 460/400, Nam Trà My 414/250), five meet it exactly, ten
# stay below; 2,402 in all against the 2,700 the province gave the districts.
POOR = {
    "502": 40, "503": 10, "504": 140, "505": 120, "506": 180, "507": 60, "508": 80, "509": 60,
    "510": 160, "511": 317, "512": 70, "513": 90, "514": 50, "515": 460, "516": 414, "517": 60,
    "518": 60, "519": 31,
}  # fmt: skip
# Near-poor: Đại Lộc (506) most with 335, then Thăng Bình (513) with 175; 1,637 in all.
NEAR_POOR = {"506": 335, "513": 175} | {
    code: 71 if i < 7 else 70 for i, code in enumerate(c for c in sorted(POOR) if c not in ("506", "513"))
}
BAC_TRA_MY_PERSONS = 2013  # the contract's example row


def first_communes() -> dict[str, str]:
    """One commune of each district (the first by code)."""
    rows = db.session.execute(
        select(Unit.parent_code, Unit.code).where(Unit.level == "commune").order_by(Unit.code.desc())
    ).all()
    return dict(rows)


def approved_at(i: int) -> str:
    return (datetime(2020, 3, 1, 3, 0, tzinfo=UTC) + timedelta(hours=i)).isoformat()


def approve(household_id: str, i: int, **fields) -> dict:
    fields = {"status": "approved", "decided_at": approved_at(i), "decided_by": "ubnd-xa"} | fields
    return f.registration(household_id, **fields)


def seed_year(app) -> None:
    """The seed report's year: 2,402 / 10,481 poor and 1,637 / 6,107 near-poor approved, plus noise."""
    with app.app_context():
        load_quotas_file(str(DATA / "quotas_2020.csv"))
        communes = first_communes()
        households, registrations, where = [], [], []
        others_with_five, near_with_four = 700, 1196  # spreads 10,481 and 6,107 persons
        for district in sorted(POOR):
            for n in range(POOR[district]):
                if district == "515":
                    members = 5 if n < BAC_TRA_MY_PERSONS - 4 * POOR["515"] else 4
                else:
                    members, others_with_five = (5, others_with_five - 1) if others_with_five else (4, 0)
                households.append(f.household(communes[district], members=members, category="poor"))
                registrations.append({"kind": "exit_poverty", "members": members})
                where.append(communes[district])
            for _ in range(NEAR_POOR[district]):
                members, near_with_four = (4, near_with_four - 1) if near_with_four else (3, 0)
                households.append(f.household(communes[district], members=members, category="near_poor"))
                registrations.append({"kind": "exit_near_poverty", "members": members})
                where.append(communes[district])
        ids = f.put_many("households", households)
        f.put_many(
            "registrations",
            [approve(hid, i, **reg) for i, (hid, reg) in enumerate(zip(ids, registrations, strict=True))],
            where,
        )
        seed_noise(communes, ids[0], where[0])


def seed_noise(communes: dict[str, str], counted_household: str, its_commune: str) -> None:
    """Registrations the report must not count, in every district."""
    noise, where = [], []
    for district, commune in communes.items():
        hid = f.put("households", f.household(commune))
        for status in ("rejected", "returned", "submitted"):
            decided = {"decided_at": approved_at(1), "decided_by": "ubnd-xa"} if status != "submitted" else {}
            noise.append(f.registration(hid, status=status, **decided))
        noise.append(approve(hid, 2, year=2019))  # last year's
        gone = f.put("households", f.household(commune), deleted=True)
        noise.append(approve(gone, 3))  # a deleted household leaves every report
        where += [commune] * 5
        if district == "519":
            lonely = f.put("households", f.household(commune))
            f.put("registrations", approve(lonely, 4), deleted=True, commune_code=commune)
    # The same household approved twice for the same kind counts once, with its first form.
    noise.append(approve(counted_household, 9999, members=9))
    where.append(its_commune)
    f.put_many("registrations", noise, where)


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode()), "Excel needs the BOM to read Vietnamese"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(body: bytes) -> tuple[list[str], list[list], list]:
    """Headings, district rows and the totals row's cells of the report's sheet."""
    ws = load_workbook(io.BytesIO(body)).active
    rows = list(ws.iter_rows())
    header = next(i for i, r in enumerate(rows) if r[0].value == "STT")
    body_rows = rows[header + 1 :]
    total = next(r for r in body_rows if r[2].value == "Tổng cộng")
    districts = [[c.value for c in r] for r in body_rows if r is not total and r[0].value is not None]
    return [c.value for c in rows[header]], districts, total


def expected_rows(report: dict) -> list[list]:
    """The numbers each district row of the table must hold, from the JSON answer."""
    return [
        [
            d["code"],
            d["name"],
            d["poor"]["households"],
            d["poor"]["persons"],
            d["poor"]["quota"],
            d["poor"]["pct_of_quota"],
            d["near_poor"]["households"],
            d["near_poor"]["persons"],
        ]
        for d in report["districts"]
    ]


def test_the_2020_report_is_reproduced_in_json_csv_and_xlsx(app, client, auth):
    seed_year(app)
    headers = auth.headers("supervisor")

    resp = client.get(URL, query_string={"year": 2020}, headers=headers)

    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["year"] == 2020 and report["province"] == {"code": "49", "name": "Tỉnh Quảng Nam"}
    assert report["totals"] == {
        "poor": {
            "households": 2402,
            "persons": 10481,
            "quota": 2700,
            "pct_of_quota": 88.96,
            "target": 3600,
            "pct_of_target": 66.72,
        },
        "near_poor": {"households": 1637, "persons": 6107, "target": 5000, "pct_of_target": 32.74},
    }
    districts = report["districts"]
    assert [d["code"] for d in districts] == sorted(POOR)
    exceeded = {
        d["name"]: (d["poor"]["households"], d["poor"]["quota"])
        for d in districts
        if d["poor"]["quota_status"] == "exceeded"
    }
    assert exceeded == {
        "Huyện Phước Sơn": (317, 250),
        "Huyện Bắc Trà My": (460, 400),
        "Huyện Nam Trà My": (414, 250),
    }
    assert sum(d["poor"]["quota_status"] == "below" for d in districts) == 10
    assert sum(d["poor"]["quota_status"] == "met" for d in districts) == 5
    bac_tra_my = next(d for d in districts if d["code"] == "515")
    assert bac_tra_my["poor"] == {
        "households": 460,
        "persons": BAC_TRA_MY_PERSONS,
        "quota": 400,
        "pct_of_quota": 115.0,
        "quota_status": "exceeded",
    }
    by_near_poor = sorted(districts, key=lambda d: -d["near_poor"]["households"])
    assert [(d["code"], d["near_poor"]["households"]) for d in by_near_poor[:2]] == [
        ("506", 335),
        ("513", 175),
    ]

    # The same numbers, downloaded for Excel.
    csv_resp = client.get(URL, query_string={"year": 2020, "format": "csv"}, headers=headers)
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    lines = read_csv(csv_resp.data)
    assert lines[0][:4] == ["STT", "Mã huyện", "Huyện", "Hộ nghèo đăng ký thoát nghèo - Số hộ đăng ký"]
    picked = [1, 2, 3, 4, 5, 6, 10, 11]  # code, name, poor households/persons/quota/%, near-poor
    as_numbers = [
        [c if i < 2 else float(c) for i, c in enumerate(row[j] for j in picked)] for row in lines[1:-1]
    ]
    assert as_numbers == expected_rows(report)
    assert lines[-1][2:8] == ["Tổng cộng", "2402", "10481", "2700", "88.96", ""]
    assert lines[-1][8:] == ["3600", "66.72", "1637", "6107", "5000", "32.74"]

    xlsx_resp = client.get(URL, query_string={"year": 2020, "format": "xlsx"}, headers=headers)
    assert xlsx_resp.status_code == 200
    assert xlsx_resp.headers["Content-Disposition"].startswith("attachment;")
    headings, rows, total = read_xlsx(xlsx_resp.data)
    assert headings[:6] == ["STT", "Mã huyện", "Huyện", "Số hộ đăng ký", "Số khẩu", "Chỉ tiêu giao"]
    assert [[row[j] for j in picked] for row in rows] == expected_rows(report)
    assert [c.value for c in total[3:7]] == [2402, 10481, 2700, 88.96]
    assert [c.value for c in total[8:]] == [3600, 66.72, 1637, 6107, 5000, 32.74]
    assert all(c.font.b for c in total[2:])  # the totals row is bold
    pct = total[6]
    assert isinstance(pct.value, float) and pct.number_format == "0.00"  # a number, not text


@pytest.fixture
def small_year(app):
    """A few approvals in Bắc Trà My (515) and Tam Kỳ (502), with the 2020 quotas."""
    with app.app_context():
        load_quotas_file(str(DATA / "quotas_2020.csv"))
        communes = first_communes()
        for district, count in (("515", 3), ("502", 2)):
            ids = f.put_many("households", [f.household(communes[district]) for _ in range(count)])
            f.put_many(
                "registrations", [approve(h, i) for i, h in enumerate(ids)], [communes[district]] * count
            )


def test_a_district_officer_gets_their_district_only(client, auth, small_year):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers("district_officer", "515"))

    assert resp.status_code == 200
    report = resp.get_json()
    assert [d["code"] for d in report["districts"]] == ["515"]
    assert report["districts"][0]["poor"]["households"] == 3
    poor = report["totals"]["poor"]
    assert (poor["households"], poor["quota"], poor["pct_of_quota"]) == (3, 400, 0.75)
    # The province's Resolution 13 target is not the district's to meet.
    assert poor["target"] is None and poor["pct_of_target"] is None


def test_a_supervisor_sees_every_district_even_empty_ones(client, auth, small_year):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers("supervisor"))

    districts = resp.get_json()["districts"]
    assert len(districts) == 18
    counts = {d["code"]: d["poor"]["households"] for d in districts}
    assert counts["515"] == 3 and counts["502"] == 2 and counts["519"] == 0
    assert resp.get_json()["totals"]["poor"]["households"] == 5


@pytest.mark.parametrize("role", ["collaborator", "commune_official"])
def test_collaborators_and_commune_users_are_refused(client, auth, role):
    resp = client.get(URL, query_string={"year": 2020}, headers=auth.headers(role))

    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"


def test_a_report_needs_a_login(client):
    resp = client.get(URL, query_string={"year": 2020})

    assert resp.status_code == 401


@pytest.mark.parametrize(
    "query, field",
    [
        ({}, "year"),
        ({"year": 2020, "format": "pdf"}, "format"),
        ({"year": 2020, "as_of": "30/06/2020"}, "as_of"),
    ],
)
def test_a_bad_query_is_a_validation_error(client, auth, query, field):
    resp = client.get(URL, query_string=query, headers=auth.headers("supervisor"))

    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["details"]


def test_a_year_without_quotas_or_approvals_is_all_zero_and_no_quota(client, auth):
    resp = client.get(URL, query_string={"year": 2031}, headers=auth.headers("supervisor"))

    report = resp.get_json()
    assert {d["poor"]["quota_status"] for d in report["districts"]} == {"no_quota"}
    assert report["totals"]["poor"] == {
        "households": 0,
        "persons": 0,
        "quota": None,
        "pct_of_quota": None,
        "target": None,
        "pct_of_target": None,
    }
