"""A registration's whole life over HTTP, each step by the right person through the right door.

A collaborator in Trà Đốc (commune 20920, Bắc Trà My district 515) registers a household; the
commune official returns the form, the collaborator corrects it, the official approves it; the
district officer plans support and schedules a reward, approves and pays it; the collaborator
records the delivery and the household's receipt. The district officer's desk is just another
device pushing through /api/v1/sync/push. At each step we look at what the collaborator's phone
pulls and at the audit trail. The refusal matrix (every wrong role, every wrong move) is in
tests/test_lifecycle_refusals.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests import factories as f
from tests.phones import Phone, statuses

TRA_DOC, TRA_SON, BAC_TRA_MY = "20920", "20900", "515"
REGISTRATION_FIELDS = ("household_id", "year", "kind", "members", "needs", "commitment", "signed_on", "notes")

SUBMITTED = datetime(2020, 5, 4, 1, 30, tzinfo=UTC)  # 08:30 on 4 May in Quảng Nam
RETURNED = datetime(2020, 5, 6, 2, 0, tzinfo=UTC)
CORRECTED = datetime(2020, 5, 20, 3, 0, tzinfo=UTC)
APPROVED = datetime(2020, 5, 22, 7, 0, tzinfo=UTC)
PLANNED = datetime(2020, 6, 1, 2, 0, tzinfo=UTC)


class Clock:
    """The server's clock as the write endpoints read it, set by the story."""

    def __init__(self, monkeypatch):
        self.now = SUBMITTED
        for module in ("server.sync.views", "server.decisions.views"):
            monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)

    def at(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def new_registration(household_id: str, **fields) -> dict:
    """What a phone sends for a new form: no server-managed fields."""
    data = f.registration(household_id, **fields)
    return {name: data[name] for name in REGISTRATION_FIELDS}


def decide(client, headers, registration_id, decision, version, note=None, expect=200) -> dict:
    resp = client.post(
        f"/api/v1/registrations/{registration_id}/decision",
        json={"decision": decision, "note": note, "version": version},
        headers=headers,
    )
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def only(response: dict) -> dict:
    (result,) = response["results"]
    return result


def trail(client, headers, record_id) -> list[tuple]:
    resp = client.get(f"/api/v1/audit?id={record_id}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [
        (e["version"], e["action"], e["actor"], e["device_id"], e["before"], e["after"])
        for e in resp.get_json()["items"]
    ]


def overdue_approvals(client, headers, as_of: str) -> list[str]:
    resp = client.get(f"/api/v1/delays?as_of={as_of}&kind=approval_overdue", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return [item["id"] for item in resp.get_json()["items"]]


def test_a_registration_from_submission_to_a_confirmed_payout(client, auth, clock):
    collaborator_name = auth.user("collaborator", TRA_DOC, "ctv.tradoc")
    official_name = auth.user("commune_official", TRA_DOC, "ubnd.tradoc")
    officer_name = auth.user("district_officer", BAC_TRA_MY, "ldtbxh.bactramy")
    phone = Phone(client, auth.headers(username=collaborator_name), device_id="phone-ctv")
    desk = Phone(client, auth.headers(username=officer_name), device_id="desk-ldtbxh")
    official = auth.headers(username=official_name)
    supervisor = auth.headers("supervisor")

    # 1. The collaborator registers the household on the phone: the form is submitted.
    hh = phone.create("households", f.household(TRA_DOC))
    reg = phone.create("registrations", new_registration(hh, needs=["livestock", "preferential_loan"]))
    assert statuses(phone.sync()) == ["applied", "applied"]
    held = phone.get("registrations", reg)
    assert held["version"] == 1
    assert held["data"]["status"] == "submitted"
    assert held["data"]["submitted_at"] == SUBMITTED.isoformat()
    # A creation's audit entry holds every field set, each from nothing.
    first = {name: value for name, value in held["data"].items() if value is not None}

    # 2. The official returns it with a note; the phone pulls the decision as version 2.
    clock.at(RETURNED)
    returned = decide(client, official, reg, "return", 1, note="Thiếu chữ ký của chủ hộ")
    assert returned["version"] == 2 and returned["data"]["status"] == "returned"
    assert [(c["entity"], c["id"], c["version"]) for c in phone.pull()] == [("registrations", reg, 2)]
    assert phone.get("registrations", reg)["data"] == {
        **held["data"],
        "status": "returned",
        "decided_by": official_name,
        "decided_at": RETURNED.isoformat(),
        "decision_note": "Thiếu chữ ký của chủ hộ",
    }
    # A returned form is not yet decided for good: the official cannot decide it again.
    again = decide(client, official, reg, "approve", 2, expect=409)
    assert again["error"]["code"] == "invalid_transition"

    # 3. The collaborator corrects it on the phone (echoing the pulled status): it comes back
    #    as submitted, received now, so the approval clock restarts; the old decision is gone.
    clock.at(CORRECTED)
    phone.edit("registrations", reg, signed_on="2020-05-18", notes="Chủ hộ đã ký lại")
    result = only(phone.sync())
    assert (result["status"], result["version"]) == ("applied", 3)
    corrected = phone.get("registrations", reg)["data"]
    assert corrected["status"] == "submitted"
    assert corrected["submitted_at"] == CORRECTED.isoformat()
    assert (corrected["decided_by"], corrected["decided_at"], corrected["decision_note"]) == (
        None,
        None,
        None,
    )
    assert corrected["signed_on"] == "2020-05-18"
    # Fifteen days after the first submission the form would be late; the clock restarted.
    assert overdue_approvals(client, supervisor, "2020-05-25") == []
    assert overdue_approvals(client, supervisor, "2020-06-05") == [reg]

    # 4. The official approves the corrected form: a stale version is refused first.
    clock.at(APPROVED)
    stale = decide(client, official, reg, "approve", 2, expect=409)
    assert stale["error"] == {
        "code": "version_conflict",
        "message": stale["error"]["message"],
        "details": {"current_version": 3},
    }
    approved = decide(client, official, reg, "approve", 3, note="Đủ điều kiện")
    assert approved["version"] == 4
    phone.pull()
    held = phone.get("registrations", reg)
    assert held["version"] == 4
    assert held["data"]["status"] == "approved"
    assert held["data"]["decided_by"] == official_name
    assert held["data"]["decided_at"] == APPROVED.isoformat()
    assert held["data"]["submitted_at"] == CORRECTED.isoformat()

    # 5. The district officer plans support at the desk; the phone pulls the plan.
    clock.at(PLANNED)
    desk.pull()
    cow = desk.create("support_items", f.support_item(hh, reg, kind="livestock", amount_vnd=30_000_000))
    loan = desk.create(
        "support_items",
        f.support_item(
            hh, reg, kind="preferential_loan", amount_vnd=50_000_000, funding_source="social_policy_bank"
        ),
    )
    assert statuses(desk.sync()) == ["applied", "applied"]
    pulled = {(c["entity"], c["id"]): c for c in phone.pull()}
    assert set(pulled) == {("support_items", cow), ("support_items", loan)}
    assert pulled[("support_items", cow)]["data"]["status"] == "planned"
    assert pulled[("support_items", loan)]["data"]["amount_vnd"] == 50_000_000

    # The loan is cancelled at the desk; the collaborator sees the cows delivered.
    desk.edit("support_items", loan, status="cancelled")
    assert statuses(desk.sync()) == ["applied"]
    phone.edit("support_items", cow, status="delivered", delivered_on="2020-07-10")
    assert statuses(phone.sync()) == ["applied"]
    assert phone.get("support_items", cow)["data"]["status"] == "delivered"
    assert phone.get("support_items", cow)["data"]["delivered_on"] == "2020-07-10"
    assert phone.get("support_items", loan)["data"]["status"] == "cancelled"

    # 6. The reward: scheduled, approved, disbursed at the desk; each step reaches the phone.
    desk.pull()
    reward = desk.create("payouts", f.payout(hh, reg, amount_vnd=5_000_000, due_date="2020-09-30"))
    assert statuses(desk.sync()) == ["applied"]
    phone.pull()
    assert phone.get("payouts", reward)["data"]["status"] == "pending"
    desk.edit("payouts", reward, status="approved")
    assert statuses(desk.sync()) == ["applied"]
    phone.pull()
    assert phone.get("payouts", reward)["data"]["status"] == "approved"
    desk.edit("payouts", reward, status="disbursed", disbursed_on="2020-09-15")
    assert statuses(desk.sync()) == ["applied"]
    phone.pull()
    assert phone.get("payouts", reward) == {
        "entity": "payouts",
        "id": reward,
        "version": 3,
        "deleted": False,
        "data": f.payout(hh, reg, amount_vnd=5_000_000, status="disbursed", disbursed_on="2020-09-15"),
    }

    # 7. The household confirms receipt on the collaborator's phone.
    phone.edit("payouts", reward, status="confirmed", confirmed_on="2020-09-16")
    assert statuses(phone.sync()) == ["applied"]
    desk.pull()
    assert desk.get("payouts", reward)["data"]["status"] == "confirmed"
    assert desk.get("payouts", reward)["version"] == 4

    # The trail tells who did each step, from which device, and what it changed.
    assert trail(client, official, reg) == [
        (1, "create", collaborator_name, "phone-ctv", dict.fromkeys(first), first),
        (
            2,
            "decide",
            official_name,
            None,
            {"status": "submitted", "decided_by": None, "decided_at": None, "decision_note": None},
            {
                "status": "returned",
                "decided_by": official_name,
                "decided_at": RETURNED.isoformat(),
                "decision_note": "Thiếu chữ ký của chủ hộ",
            },
        ),
        (
            3,
            "update",
            collaborator_name,
            "phone-ctv",
            {
                "status": "returned",
                "submitted_at": SUBMITTED.isoformat(),
                "decided_by": official_name,
                "decided_at": RETURNED.isoformat(),
                "decision_note": "Thiếu chữ ký của chủ hộ",
                "notes": None,
                "signed_on": "2020-03-15",
            },
            {
                "status": "submitted",
                "submitted_at": CORRECTED.isoformat(),
                "decided_by": None,
                "decided_at": None,
                "decision_note": None,
                "notes": "Chủ hộ đã ký lại",
                "signed_on": "2020-05-18",
            },
        ),
        (
            4,
            "decide",
            official_name,
            None,
            {"status": "submitted", "decided_by": None, "decided_at": None, "decision_note": None},
            {
                "status": "approved",
                "decided_by": official_name,
                "decided_at": APPROVED.isoformat(),
                "decision_note": "Đủ điều kiện",
            },
        ),
    ]
    assert [
        (v, action, actor, device, after)
        for v, action, actor, device, _, after in trail(client, supervisor, reward)
    ][1:] == [
        (2, "update", officer_name, "desk-ldtbxh", {"status": "approved"}),
        (3, "update", officer_name, "desk-ldtbxh", {"status": "disbursed", "disbursed_on": "2020-09-15"}),
        (4, "update", collaborator_name, "phone-ctv", {"status": "confirmed", "confirmed_on": "2020-09-16"}),
    ]
    assert [(v, action, actor, after) for v, action, actor, _, _, after in trail(client, official, cow)][
        1:
    ] == [(2, "update", collaborator_name, {"status": "delivered", "delivered_on": "2020-07-10"})]
    assert [(v, actor, after) for v, _, actor, _, _, after in trail(client, official, loan)][1:] == [
        (2, officer_name, {"status": "cancelled"})
    ]

    # At the end the phone holds every record of the household at its latest version.
    phone.pull()
    assert {key: held["version"] for key, held in phone.records.items()} == {
        ("households", hh): 1,
        ("registrations", reg): 4,
        ("support_items", cow): 2,
        ("support_items", loan): 2,
        ("payouts", reward): 4,
    }


def test_a_returned_form_edited_twice_offline_restarts_the_clock_once_per_resubmission(client, auth, clock):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    official = auth.headers("commune_official", TRA_DOC)
    hh = phone.create("households", f.household(TRA_DOC))
    reg = phone.create("registrations", new_registration(hh))
    phone.sync()
    clock.at(RETURNED)
    decide(client, official, reg, "return", 1, note="Sai số nhân khẩu")
    phone.pull()
    clock.at(CORRECTED)
    phone.edit("registrations", reg, members=5)
    phone.sync()
    # A second correction of the now-submitted form keeps its new submission time.
    clock.at(APPROVED)
    phone.edit("registrations", reg, notes="Bổ sung ghi chú")
    assert [(r["status"], r["version"]) for r in phone.sync()["results"]] == [("applied", 4)]
    held = phone.get("registrations", reg)["data"]
    assert (held["status"], held["submitted_at"], held["members"]) == ("submitted", CORRECTED.isoformat(), 5)


def test_a_rejected_form_is_locked_and_never_comes_back(client, auth, clock):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    official = auth.headers("commune_official", TRA_DOC)
    hh = phone.create("households", f.household(TRA_DOC))
    reg = phone.create("registrations", new_registration(hh))
    phone.sync()
    decide(client, official, reg, "reject", 1, note="Hộ chưa đủ điều kiện thoát nghèo")
    phone.pull()
    assert phone.get("registrations", reg)["data"]["status"] == "rejected"
    phone.edit("registrations", reg, members=3)
    result = only(phone.sync())
    assert (result["status"], result["version"], result["errors"]["code"]) == ("rejected", 2, "locked")
    assert decide(client, official, reg, "approve", 2, expect=409)["error"]["code"] == "invalid_transition"


def test_an_admin_decides_anywhere_and_the_phone_pulls_it(client, auth, clock):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    hh = phone.create("households", f.household(TRA_DOC))
    reg = phone.create("registrations", new_registration(hh))
    phone.sync()
    decided = decide(client, auth.headers("admin"), reg, "approve", 1)
    assert decided["data"]["status"] == "approved"
    phone.pull()
    assert phone.get("registrations", reg)["version"] == 2
