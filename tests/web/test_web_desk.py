"""The district officer's desk: every form is a push through the engine, as device web-<user>."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, Payout, SupportItem
from tests.phones import Phone
from tests.web.pages import BATCH, PageSession, capture_forms, flashes


def payouts_of(app, household_id: str) -> list[Payout]:
    with app.app_context():
        rows = db.session.execute(select(Payout).where(Payout.household_id == household_id)).scalars()
        return [db.session.merge(row) for row in rows]


def schedule_form(page_html: str) -> dict:
    """The schedule form's own batch id, as the browser would post it back."""
    form = page_html[page_html.index('/payouts" class="stack"') :]
    return {"batch_id": BATCH.search(form).group(1)}


def test_scheduling_a_payout_is_a_push_every_phone_pulls(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, reg)] = capture_forms(collaborator, 1)
    name = auth.user("district_officer")
    officer = PageSession(app, name)
    page = officer.get(f"/web/households/{hh}")
    assert page.status_code == 200 and "Hồ Văn Số 0" in page.text
    form = {
        **schedule_form(page.text),
        "kind": "reward",
        "registration_id": reg,
        "recognized_year": "2020",
        "amount_vnd": "5.000.000",
        "due_date": "2020-09-30",
    }
    resp = officer.post(f"/web/households/{hh}/payouts", form)
    assert resp.status_code == 302
    assert flashes(officer.get(resp.headers["Location"]).text) == ["Đã lên lịch chi trả."]
    [payout] = payouts_of(app, hh)
    assert (payout.amount_vnd, payout.status, payout.version, payout.registration_id) == (
        5_000_000,
        "pending",
        1,
        reg,
    )
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.record_id == payout.id)).scalar_one()
        assert (entry.actor, entry.device_id, entry.action) == (name, f"web-{name}", "create")
    collaborator.pull()
    assert collaborator.get("payouts", payout.id)["data"]["amount_vnd"] == 5_000_000
    # the same form posted twice (a double click) schedules one payout, not two
    officer.post(f"/web/households/{hh}/payouts", form)
    assert len(payouts_of(app, hh)) == 1


def test_a_payout_is_approved_disbursed_and_a_second_one_cancelled(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(collaborator, 1)
    officer = PageSession(app, auth.user("district_officer"))
    for amount in ("5000000", "1200000"):
        page = officer.get(f"/web/households/{hh}")
        officer.post(
            f"/web/households/{hh}/payouts",
            {
                **schedule_form(page.text),
                "kind": "reward",
                "recognized_year": "2020",
                "amount_vnd": amount,
                "due_date": "2020-09-30",
            },
        )
    first, second = sorted(payouts_of(app, hh), key=lambda p: -p.amount_vnd)
    officer.post(f"/web/payouts/{first.id}/approve", {"version": "1"})
    officer.post(f"/web/payouts/{first.id}/disburse", {"version": "2", "disbursed_on": "2020-10-05"})
    officer.post(f"/web/payouts/{second.id}/cancel", {"version": "1"})
    statuses = {p.id: (p.status, p.disbursed_on and p.disbursed_on.isoformat()) for p in payouts_of(app, hh)}
    assert statuses == {first.id: ("disbursed", "2020-10-05"), second.id: ("cancelled", None)}
    collaborator.pull()
    assert collaborator.get("payouts", first.id)["data"]["status"] == "disbursed"
    page = officer.get(f"/web/households/{hh}")
    assert "Đã chi" in page.text and "05/10/2020" in page.text


def test_the_engine_refuses_a_move_out_of_the_lifecycle(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(collaborator, 1)
    officer = PageSession(app, auth.user("district_officer"))
    page = officer.get(f"/web/households/{hh}")
    officer.post(
        f"/web/households/{hh}/payouts",
        {
            **schedule_form(page.text),
            "kind": "tuition",
            "recognized_year": "2020",
            "amount_vnd": "800000",
            "due_date": "2020-09-30",
            "disbursed_on": "2020-09-01",  # paid on paper already: recorded disbursed
        },
    )
    [payout] = payouts_of(app, hh)
    assert (payout.status, payout.disbursed_on.isoformat()) == ("disbursed", "2020-09-01")
    resp = officer.post(f"/web/payouts/{payout.id}/cancel", {"version": "1"})
    message = flashes(officer.get(resp.headers["Location"]).text)[-1]
    assert message.startswith("Máy chủ từ chối thay đổi") and "disbursed" in message
    assert payouts_of(app, hh)[0].status == "disbursed"


def test_a_form_with_a_bad_amount_writes_nothing(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(collaborator, 1)
    officer = PageSession(app, auth.user("district_officer"))
    page = officer.get(f"/web/households/{hh}")
    resp = officer.post(
        f"/web/households/{hh}/payouts",
        {
            **schedule_form(page.text),
            "kind": "reward",
            "recognized_year": "2020",
            "amount_vnd": "năm triệu",
            "due_date": "2020-09-30",
        },
    )
    assert "Số tiền" in flashes(officer.get(resp.headers["Location"]).text)[0]
    assert payouts_of(app, hh) == []


def test_support_items_are_recorded_and_delivered(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, reg)] = capture_forms(collaborator, 1)
    officer = PageSession(app, auth.user("district_officer"))
    assert (
        "Hỗ trợ chỉ được lập cho hồ sơ đã được UBND xã thống nhất"
        in officer.get(f"/web/households/{hh}").text
    )
    PageSession(app, auth.user("commune_official")).post(
        f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"}
    )
    page = officer.get(f"/web/households/{hh}")
    form = page.text[page.text.index('/support-items" class="stack"') :]
    resp = officer.post(
        f"/web/households/{hh}/support-items",
        {
            "batch_id": BATCH.search(form).group(1),
            "registration_id": reg,
            "kind": "livestock",
            "description": "2 con bò giống",
            "amount_vnd": "30000000",
            "funding_source": "province",
            "due_date": "2020-07-01",
        },
    )
    assert flashes(officer.get(resp.headers["Location"]).text) == ["Đã ghi nhận hỗ trợ."]
    with app.app_context():
        item = db.session.execute(select(SupportItem).where(SupportItem.household_id == hh)).scalar_one()
        assert (item.status, item.description, item.amount_vnd) == ("planned", "2 con bò giống", 30_000_000)
    officer.post(f"/web/support-items/{item.id}/deliver", {"version": "1", "delivered_on": "2020-06-20"})
    collaborator.pull()
    data = collaborator.get("support_items", item.id)["data"]
    assert (data["status"], data["delivered_on"]) == ("delivered", "2020-06-20")


def test_only_district_staff_write_and_only_in_their_district(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(collaborator, 1)
    form = {"kind": "reward", "recognized_year": "2020", "amount_vnd": "1000000", "due_date": "2020-09-30"}
    official = PageSession(app, auth.user("commune_official"))
    assert official.get(f"/web/households/{hh}").status_code == 200  # reads the commune's plans
    assert 'name="amount_vnd"' not in official.get(f"/web/households/{hh}").text
    assert official.post(f"/web/households/{hh}/payouts", form).status_code == 403
    elsewhere = PageSession(app, auth.user("district_officer", unit="502"))
    assert elsewhere.post(f"/web/households/{hh}/payouts", form).status_code == 404
    supervisor = PageSession(app, auth.user("supervisor"))
    assert supervisor.post(f"/web/households/{hh}/payouts", form).status_code == 403
    assert payouts_of(app, hh) == []


def test_the_household_list_is_the_districts_with_totals(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    capture_forms(collaborator, 3)
    neighbour = Phone(client, auth.headers("collaborator", unit="20923"))
    capture_forms(neighbour, 2, commune="20923")
    elsewhere = Phone(client, auth.headers("collaborator", unit="20335"))
    capture_forms(elsewhere, 1, commune="20335")
    officer = PageSession(app, auth.user("district_officer"))
    page = officer.get("/web/households")
    assert "5 hộ" in page.text and page.text.count("/web/households/") == 5
    only = officer.get("/web/households?commune=20923")
    assert only.text.count("/web/households/") == 2
    found = officer.get("/web/households?q=" + "hồ văn số 1")
    assert len(re.findall(r"/web/households/[0-9a-f-]{36}", found.text)) == 2  # one in each commune
