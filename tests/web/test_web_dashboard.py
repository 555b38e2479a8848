"""The supervisor's dashboard and downloads: the API's figures, on a page, in the user's units."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from server.cli import DATA, load_quotas_file
from tests.factories import household, payout, registration
from tests.web.pages import PageSession, seed


def load_quotas(app) -> None:
    with app.app_context():
        load_quotas_file(str(DATA / "quotas_2020.csv"))


def delay_ids(html: str) -> list[str]:
    return re.findall(r'data-delay="([^"]+)"', html)


def seed_late_work(app) -> dict:
    """Bắc Trà My (515): a payout a year late, one a month late, a paid one, and a stuck form;
    Tam Kỳ (502): a payout three months late."""
    ids = {}
    hh = seed(app, "households", household())
    ids["approved"] = seed(
        app, "registrations", registration(hh, status="approved", decided_at="2020-06-01T09:00:00+07:00")
    )
    today = datetime.now(UTC).date()
    ids["year_late"] = seed(
        app, "payouts", payout(hh, amount_vnd=5_000_000, due_date=(today - timedelta(days=365)).isoformat())
    )
    ids["month_late"] = seed(
        app, "payouts", payout(hh, amount_vnd=1_200_000, due_date=(today - timedelta(days=30)).isoformat())
    )
    seed(app, "payouts", payout(hh, status="disbursed", disbursed_on="2020-09-01", due_date="2020-08-01"))
    stuck_hh = seed(app, "households", household())
    submitted = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    ids["stuck"] = seed(app, "registrations", registration(stuck_hh, submitted_at=submitted))
    tam_ky = seed(app, "households", household("20335"))
    ids["tam_ky"] = seed(
        app,
        "payouts",
        payout(tam_ky, amount_vnd=2_000_000, due_date=(today - timedelta(days=90)).isoformat()),
        commune_code="20335",
    )
    return ids


def test_the_supervisor_sees_the_quota_table_of_every_district(app, auth):
    load_quotas(app)
    seed_late_work(app)
    page = PageSession(app, auth.user("supervisor")).get("/web/dashboard?year=2020")
    assert page.status_code == 200
    districts = re.findall(r'data-district="(\d+)"', page.text)
    assert len(districts) == 18 and districts[0] == "502"
    row = page.text[page.text.index('data-district="515"') :]
    row = row[: row.index("</tr>")]
    # Bắc Trà My: one approved poor household against its quota of 400 (0.25 %)
    assert re.findall(r'<td class="num">([^<]*)</td>', row)[:4] == ["1", "4", "400", "0,25"]
    assert "Chưa đạt" in row and 'style="width: 0.2%"' in row


def test_the_most_overdue_payout_tops_the_delay_list_with_the_vnd_outstanding(app, auth):
    ids = seed_late_work(app)
    supervisor = PageSession(app, auth.user("supervisor"))
    page = supervisor.get("/web/dashboard")
    assert delay_ids(page.text)[0] == ids["year_late"]
    payouts = supervisor.get("/web/dashboard?kind=payout_overdue")
    assert delay_ids(payouts.text) == [ids["year_late"], ids["tam_ky"], ids["month_late"]]
    assert "Tổng tiền chưa chi trả quá hạn: 8.200.000" in payouts.text
    by_amount = supervisor.get("/web/dashboard?kind=payout_overdue&sort=amount_vnd&dir=asc")
    assert delay_ids(by_amount.text) == [ids["month_late"], ids["tam_ky"], ids["year_late"]]
    one_district = supervisor.get("/web/dashboard?kind=payout_overdue&unit=502")
    assert delay_ids(one_district.text) == [ids["tam_ky"]]
    english = supervisor.get("/web/dashboard?kind=payout_overdue&lang=en")
    assert "Overdue payouts outstanding: 8,200,000" in english.text


def test_a_district_officer_sees_only_their_district(app, auth):
    load_quotas(app)
    ids = seed_late_work(app)
    officer = PageSession(app, auth.user("district_officer"))
    page = officer.get("/web/dashboard?year=2020")
    assert re.findall(r'data-district="(\d+)"', page.text) == ["515"]
    assert ids["tam_ky"] not in delay_ids(page.text) and ids["year_late"] in delay_ids(page.text)
    assert officer.get("/web/dashboard?unit=502").status_code == 404
    assert PageSession(app, auth.user("commune_official")).get("/web/dashboard").status_code == 403


def test_the_downloads_are_the_api_files(app, client, auth):
    load_quotas(app)
    ids = seed_late_work(app)
    supervisor = PageSession(app, auth.user("supervisor"))
    page = supervisor.get("/web/dashboard?year=2020")
    for link in re.findall(r'href="(/web/downloads/[^"]+)"', page.text):
        resp = supervisor.get(link.replace("&amp;", "&"))
        assert resp.status_code == 200, link
        assert resp.mimetype in (
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    ours = supervisor.get("/web/downloads/exit-registrations?year=2020&format=csv").data
    api = client.get(
        "/api/v1/reports/exit-registrations?year=2020&format=csv", headers=auth.headers("supervisor")
    ).data
    assert ours == api
    delays = supervisor.get("/web/downloads/delays?format=csv&kind=payout_overdue").data.decode("utf-8-sig")
    assert delays.splitlines()[1].startswith("payout_overdue,payouts," + ids["year_late"])
    officer = PageSession(app, auth.user("district_officer"))
    assert officer.get("/web/downloads/delays?unit=502").status_code == 404
    assert ids["tam_ky"] not in officer.get("/web/downloads/delays?format=csv").data.decode("utf-8-sig")


def test_the_audit_page_shows_a_records_trail(app, client, auth):
    from tests.phones import Phone
    from tests.web.pages import capture_forms

    phone = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(phone, 1)
    phone.edit("households", hh, village="Thôn Mới")
    phone.sync()
    supervisor = PageSession(app, auth.user("supervisor"))
    page = supervisor.get(f"/web/audit?entity=households&id={hh}")
    assert "Tạo mới" in page.text and "Cập nhật" in page.text and "Thôn Mới" in page.text
    assert supervisor.get("/web/audit?entity=households&id=not-a-uuid").status_code == 404
    officer = PageSession(app, auth.user("district_officer", unit="502"))
    assert officer.get(f"/web/audit?entity=households&id={hh}").status_code == 404
