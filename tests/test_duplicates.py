"""Possible duplicates, over HTTP: two collaborators of Trà Đốc register the same family, one
with Vietnamese diacritics and one without; the server takes both, opens one case for the
commune official, who settles it as distinct (never asked again) or as the same household
(the other's form moves to the kept one, every phone pulls it, the report counts it once)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server.auth.current import actor_and_scope
from server.extensions import db
from server.store.accounts import get_user_by_username
from server.store.sync import SqlStore
from sync.duplicates import settle_duplicate
from sync.errors import InvalidTransitionError
from tests import factories as f
from tests.odk.collect import JPEG, Collect
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, HOUSEHOLD_ID, INSTANCE_UUID, fill_instance
from tests.phones import Phone, statuses
from tests.test_lifecycle import new_registration
from tests.web.pages import PageSession

TRA_DOC, TAN_THANH = "20920", "20335"
URL = "/api/v1/duplicates"
OPENED = datetime(2020, 5, 4, 2, 0, tzinfo=UTC)


class Clock:
    """The server's clock as the write endpoints read it."""

    def __init__(self, monkeypatch):
        self.now = OPENED
        for module in ("server.sync.views", "server.decisions.views", "server.duplicates.views"):
            monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def listed(client, headers, **query) -> list[dict]:
    resp = client.get(URL, query_string=query, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def settle(client, headers, case_id, decision, keep=None, expect=200) -> dict:
    body = {"decision": decision} | ({"keep": keep} if keep else {})
    resp = client.post(f"{URL}/{case_id}/settle", json=body, headers=headers)
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def two_collaborators_register_one_family(client, auth):
    """Hồ Thị Xuân Lan of Thôn 3, typed with and without diacritics, 5 and 4 members."""
    first = Phone(client, auth.headers("collaborator", TRA_DOC))
    second = Phone(client, auth.headers("collaborator", TRA_DOC))
    a = first.create("households", f.household(village="Thôn 3", head_name="Hồ Thị Xuân Lan", members=5))
    reg_a = first.create("registrations", new_registration(a))
    b = second.create("households", f.household(village="thon 3", head_name="HO THI  XUAN LAN", members=4))
    reg_b = second.create("registrations", new_registration(b))
    assert statuses(first.sync()) == ["applied", "applied"]
    assert statuses(second.sync()) == ["applied", "applied"]  # a match is never refused
    return first, second, (a, reg_a), (b, reg_b)


def test_two_collaborators_phones_open_one_case_for_their_commune_official_only(client, auth):
    first, _, (a, _), (b, _) = two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    (case,) = listed(client, official)
    assert case["kind"] == "duplicate_suspected" and case["status"] == "open"
    assert case["households"] == sorted([a, b]) and case["reasons"] == ["same_head_name"]
    assert listed(client, auth.headers("commune_official", TAN_THANH)) == []
    assert [c["id"] for c in listed(client, auth.headers("district_officer", "515"))] == [case["id"]]
    # Sending the same household again, or editing it, opens nothing new.
    first.edit("households", a, notes="Đã gặp chủ hộ")
    assert statuses(first.sync()) == ["applied"]
    assert [c["id"] for c in listed(client, official)] == [case["id"]]


def test_same_code_and_same_phone_match_too_and_a_different_family_does_not(client, auth):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    a = phone.create(
        "households", f.household(code="TD-0001", head_name="Nguyễn Văn An", phone="0905 123 456")
    )
    b = phone.create("households", f.household(code="TD-0001", head_name="Trần Văn Bình"))
    c = phone.create("households", f.household(head_name="Lê Thị Cúc", phone="+84 905123456"))
    phone.create("households", f.household(head_name="Nguyễn Văn An", village="Thôn 9"))  # another village
    phone.create("households", f.household(head_name="Nguyễn Văn An", members=7))  # 3 members more
    phone.create("households", f.household(code="TD-0001", commune_code=TAN_THANH) | {"phone": None})
    phone.sync()
    cases = listed(client, auth.headers("admin"))
    found = sorted((c["households"], c["reasons"]) for c in cases)
    assert found == sorted([(sorted([a, b]), ["same_code"]), (sorted([a, c]), ["same_phone"])])


def test_dd_folds_to_d(client, auth):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    a = phone.create("households", f.household(head_name="Đinh Văn Đức"))
    b = phone.create("households", f.household(head_name="dinh van duc"))
    phone.sync()
    (case,) = listed(client, auth.headers("commune_official", TRA_DOC))
    assert case["households"] == sorted([a, b])


def test_settled_distinct_is_never_asked_again(client, auth):
    first, second, (a, _), (b, _) = two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    (case,) = listed(client, official)
    answer = settle(client, official, case["id"], "distinct")
    assert answer["duplicate"]["status"] == "settled" and answer["duplicate"]["decision"] == "distinct"
    assert answer["moved"] == []
    second.edit("households", b, members=5, phone="0905 000 111")
    first.edit("households", a, phone="0905000111")
    assert statuses(second.sync()) == ["applied"] and statuses(first.sync()) == ["applied"]
    (again,) = listed(client, official)
    assert again["id"] == case["id"] and again["status"] == "settled"
    assert listed(client, official, status="open") == []
    settle(client, official, case["id"], "distinct", expect=409)


def exit_report(client, auth) -> dict:
    resp = client.get(
        "/api/v1/reports/exit-registrations", query_string={"year": 2020}, headers=auth.headers("supervisor")
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["totals"]["poor"]


def approve(client, headers, registration_id) -> None:
    resp = client.post(
        f"/api/v1/registrations/{registration_id}/decision",
        json={"decision": "approve", "note": None, "version": 1},
        headers=headers,
    )
    assert resp.status_code == 200, resp.get_json()


def test_settled_same_moves_the_form_every_phone_pulls_it_and_the_report_counts_once(client, auth):
    first, second, (a, reg_a), (b, reg_b) = two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    approve(client, official, reg_a)
    approve(client, official, reg_b)
    first.pull(), second.pull()
    assert exit_report(client, auth)["households"] == 2
    (case,) = listed(client, official)

    answer = settle(client, official, case["id"], "same", keep=a)

    assert answer["duplicate"]["decision"] == "same" and answer["duplicate"]["keep"] == a
    assert [(r["entity"], r["id"]) for r in answer["moved"]] == [("registrations", reg_b), ("households", b)]
    for phone in (first, second):
        got = {(r["entity"], r["id"]): r for r in phone.pull()}
        moved = got[("registrations", reg_b)]
        assert moved["data"]["household_id"] == a and moved["version"] == 3
        assert moved["data"]["status"] == "approved"  # the decision stays
        tombstone = got[("households", b)]
        assert tombstone["deleted"] is True and tombstone["data"]["merged_into"] == a
    assert exit_report(client, auth)["households"] == 1
    trail = client.get(
        "/api/v1/audit", query_string={"entity": "registrations", "id": reg_b}, headers=official
    ).get_json()["items"]
    assert trail[-1]["action"] == "merge" and trail[-1]["after"] == {"household_id": a}
    assert trail[-1]["before"] == {"household_id": b}
    settle(client, official, case["id"], "same", keep=a, expect=409)
    # The tombstone's pointer is the server's: a phone cannot point a household elsewhere.
    first.records[("households", a)]["data"]["merged_into"] = b
    first.edit("households", a)
    assert first.push()["results"][0]["errors"]["code"] == "read_only"


def test_a_payout_and_a_support_item_move_with_their_form(client, auth):
    _, _, (a, _), (b, reg_b) = two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    approve(client, official, reg_b)
    desk = Phone(client, auth.headers("district_officer", "515"))
    item = desk.create("support_items", f.support_item(b, reg_b))
    payout = desk.create("payouts", f.payout(b, reg_b))
    assert statuses(desk.sync()) == ["applied", "applied"]
    (case,) = listed(client, official)
    settle(client, official, case["id"], "same", keep=a)
    got = {(r["entity"], r["id"]): r for r in desk.pull()}
    assert got[("support_items", item)]["data"]["household_id"] == a
    assert got[("payouts", payout)]["data"]["household_id"] == a
    kept = client.get(f"/api/v1/payouts?household_id={a}", headers=official).get_json()["items"]
    assert [p["id"] for p in kept] == [payout]


def test_bad_settlements_are_refused_in_the_envelope(client, auth):
    _, _, (a, _), (b, _) = two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    (case,) = listed(client, official)
    unknown = settle(client, official, str(uuid.uuid4()), "distinct", expect=404)
    assert unknown["error"]["code"] == "not_found"
    stranger = settle(client, official, case["id"], "same", keep=str(uuid.uuid4()), expect=422)
    assert stranger["error"]["code"] == "validation_error" and "keep" in stranger["error"]["details"]
    missing = settle(client, official, case["id"], "same", expect=422)
    assert "keep" in missing["error"]["details"]
    assert settle(client, official, case["id"], "maybe", expect=422)["error"]["code"] == "validation_error"
    other = auth.headers("commune_official", TAN_THANH)
    assert settle(client, other, case["id"], "distinct", expect=404)["error"]["code"] == "not_found"
    collaborator = auth.headers("collaborator", TRA_DOC)
    assert settle(client, collaborator, case["id"], "distinct", expect=403)["error"]["code"] == "forbidden"
    assert listed(client, official, status="open")[0]["id"] == case["id"]  # nothing settled
    settle(client, official, case["id"], "same", keep=b)
    twice = settle(client, official, case["id"], "distinct", expect=409)
    assert twice["error"]["code"] == "invalid_transition"


def test_an_odk_submission_creating_a_duplicate_opens_a_case(client, auth):
    phone = Phone(client, auth.headers("collaborator", TRA_DOC))
    earlier = phone.create(
        "households", f.household(village="Thôn 2", head_name="Ho Van Duoc", members=4, code="TD-77")
    )
    phone.sync()
    collect = Collect(client, auth.user("collaborator", TRA_DOC))
    answers = {**EXIT_REGISTRATION_ANSWERS, "commune_code": TRA_DOC, "household_code": "TD-OTHER"}
    resp = collect.submit(fill_instance("exit_registration", answers), {answers["signed_form_photo"]: JPEG})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    (case,) = listed(client, auth.headers("commune_official", TRA_DOC))
    assert case["households"] == sorted([earlier, HOUSEHOLD_ID]) and case["reasons"] == ["same_head_name"]
    assert INSTANCE_UUID  # the form itself went through: its registration is submitted
    reg = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=auth.headers("admin")).get_json()
    assert reg["data"]["household_id"] == HOUSEHOLD_ID


def delays(client, headers, as_of) -> list[dict]:
    resp = client.get(
        "/api/v1/delays", query_string={"as_of": as_of, "kind": "duplicate_unsettled"}, headers=headers
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def test_an_open_pair_is_in_the_delay_audit_after_approval_overdue_days(app, client, auth, clock):
    two_collaborators_register_one_family(client, auth)
    official = auth.headers("commune_official", TRA_DOC)
    (case,) = listed(client, official)
    days = app.config["APPROVAL_OVERDUE_DAYS"]
    opened_on = OPENED.date()  # 09:00 in Vietnam: the same day
    due = opened_on + timedelta(days=days)
    assert delays(client, official, due.isoformat()) == []  # due today: not yet late
    (late,) = delays(client, official, (due + timedelta(days=1)).isoformat())
    assert late["entity"] == "duplicates" and late["id"] == case["id"] and late["days_overdue"] == 1
    assert late["commune_code"] == TRA_DOC and late["status"] == "open"
    assert (
        delays(client, auth.headers("commune_official", TAN_THANH), (due + timedelta(days=1)).isoformat())
        == []
    )
    clock.now = OPENED + timedelta(days=days + 3)
    settle(client, official, case["id"], "distinct")
    later = (due + timedelta(days=5)).isoformat()
    assert delays(client, official, later) == []
    # A past day still shows what was late then.
    assert [d["id"] for d in delays(client, official, (due + timedelta(days=2)).isoformat())] == [case["id"]]


def test_the_officials_page_shows_both_households_and_settles_them_as_one(app, client, auth):
    first, second, (a, reg_a), (b, reg_b) = two_collaborators_register_one_family(client, auth)
    official = PageSession(app, auth.user("commune_official", TRA_DOC))
    page = official.get("/web/duplicates?lang=en")
    assert page.status_code == 200
    case_id = re.search(r'data-duplicate="([^"]+)"', page.text).group(1)
    assert "Hồ Thị Xuân Lan" in page.text and "HO THI  XUAN LAN" in page.text
    assert "same head&#39;s name, same village" in page.text
    assert "<td>Poor</td>" in page.text and "<td>poor</td>" not in page.text  # the programme's word
    assert (
        PageSession(app, auth.user("commune_official", TAN_THANH))
        .get("/web/duplicates")
        .text.count("data-duplicate=")
        == 0
    )
    resp = official.post(f"/web/duplicates/{case_id}/settle", {"decision": "same", "keep": b})
    assert resp.status_code == 302
    after = official.get("/web/duplicates?lang=en").text
    assert "The two households are merged." in after and "data-duplicate=" not in after
    got = {(r["entity"], r["id"]): r for r in first.pull()}
    assert got[("registrations", reg_a)]["data"]["household_id"] == b
    assert got[("households", a)]["data"]["merged_into"] == b


def settle_in_transaction(app, username, case_id, outcome, release=None) -> None:
    """Settle through the engine and flush, then commit when released; note what happened."""
    with app.app_context():
        actor, _ = actor_and_scope(get_user_by_username(username))
        store = SqlStore()
        try:
            settle_duplicate(store, actor, case_id, "distinct", None, datetime.now(UTC))
            store.flush()
            if release is not None:
                release.wait(30)
            db.session.commit()
            outcome.append("settled")
        except InvalidTransitionError:
            db.session.rollback()
            outcome.append("invalid_transition")
        finally:
            db.session.remove()


def test_two_officials_settling_one_pair_at_once_take_turns(app, client, auth):
    two_collaborators_register_one_family(client, auth)
    name = auth.user("commune_official", TRA_DOC)
    (case,) = listed(client, auth.headers(username=name))
    release, first, second = threading.Event(), [], []
    one = threading.Thread(target=settle_in_transaction, args=(app, name, case["id"], first, release))
    one.start()
    time.sleep(0.5)  # the first has settled and flushed, uncommitted
    two = threading.Thread(target=settle_in_transaction, args=(app, name, case["id"], second))
    two.start()
    time.sleep(0.5)
    assert second == []  # the second waits for the first's commit
    release.set()
    one.join(30), two.join(30)
    assert (first, second) == (["settled"], ["invalid_transition"])
