"""Side doors of the write path, found by an outside review, shut over HTTP.

A conflict's resolution is a write by the resolver like any push of it: a commune official
cannot re-price or un-pay a payout through one, a district officer cannot rewrite a form's
household, nobody moves a status back. And a household cannot vanish from under the programme
history hanging off it: deleting one with a decided form, planned or delivered support or a
payout not cancelled is `locked` for everyone but an admin, and the refusal is kept.
"""

from __future__ import annotations

import pytest

from server.store.sync import SqlStore
from tests import factories as f
from tests.phones import Phone, change
from tests.test_lifecycle import BAC_TRA_MY, TRA_DOC, decide, new_registration, only

EXAMPLE = {"amount_vnd": 999999999, "status": "pending", "disbursed_on": None, "confirmed_on": None}


@pytest.fixture
def people(client, auth) -> dict[str, Phone]:
    roles = {
        "collaborator": ("collaborator", TRA_DOC),
        "official": ("commune_official", TRA_DOC),
        "officer": ("district_officer", BAC_TRA_MY),
        "admin": ("admin", "49"),
    }
    return {
        name: Phone(client, auth.headers(role, unit), f"device-{name}")
        for name, (role, unit) in roles.items()
    }


def approved_household(client, people) -> tuple[str, str]:
    field = people["collaborator"]
    hh = field.create("households", f.household(TRA_DOC))
    reg = field.create("registrations", new_registration(hh))
    field.push()
    decide(client, people["official"].headers, reg, "approve", 1)
    return hh, reg


def get(client, people, entity, record_id) -> dict:
    return client.get(f"/api/v1/{entity}/{record_id}", headers=people["admin"].headers).get_json()


def resolve(client, phone, conflict_id, resolution, data=None):
    body = {"resolution": resolution, **({"data": data} if data is not None else {})}
    return client.post(f"/api/v1/conflicts/{conflict_id}/resolve", json=body, headers=phone.headers)


def test_a_resolution_cannot_reprice_unpay_or_rewind_a_confirmed_payout(client, people):
    hh, reg = approved_household(client, people)
    desk, field = people["officer"], people["collaborator"]
    payout = desk.create("payouts", f.payout(hh, reg, status="disbursed", disbursed_on="2020-09-15"))
    desk.push()
    paid = get(client, people, "payouts", payout)["data"]
    field.outbox.append(
        change("payouts", payout, {**paid, "status": "confirmed", "confirmed_on": "2020-09-16"}, 1)
    )
    assert only(field.push())["status"] == "applied"
    # Two district desks re-price it from the version they saw: the second is a conflict.
    for amount in (6_000_000, 7_000_000):
        desk.outbox.append(change("payouts", payout, {**paid, "amount_vnd": amount}, 1))
        result = only(desk.push())
    assert result["status"] == "conflict"
    before = get(client, people, "payouts", payout)
    assert (before["data"]["status"], before["data"]["amount_vnd"]) == ("confirmed", 6_000_000)

    refusals = [
        (people["official"], "custom", EXAMPLE, 403, "forbidden"),  # the review's exact request
        (people["official"], "take_device", None, 403, "forbidden"),  # re-pricing is the district's
        (desk, "custom", EXAMPLE, 409, "invalid_transition"),  # confirmed never goes back
        (desk, "custom", {"status": "cancelled"}, 409, "invalid_transition"),
    ]
    for phone, resolution, data, status, code in refusals:
        resp = resolve(client, phone, result["conflict_id"], resolution, data)
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (status, code), (phone.device_id, data)
        assert get(client, people, "payouts", payout) == before
    conflicts = client.get("/api/v1/conflicts?status=open", headers=desk.headers).get_json()
    assert result["conflict_id"] in [c["id"] for c in conflicts["items"]]
    # The district may settle its own re-pricing.
    resp = resolve(client, desk, result["conflict_id"], "take_device")
    assert resp.status_code == 200
    assert resp.get_json()["record"]["data"] == {**before["data"], "amount_vnd": 7_000_000}


def test_a_district_officer_cannot_rewrite_a_household_through_a_conflict(client, people, auth):
    hh, _ = approved_household(client, people)
    first, second = people["collaborator"], Phone(client, auth.headers("collaborator", TRA_DOC))
    data = get(client, people, "households", hh)["data"]
    for phone, name in ((first, "Hồ Văn Một"), (second, "Hồ Văn Hai")):
        phone.outbox.append(change("households", hh, {**data, "head_name": name}, 1))
        result = only(phone.push())
    assert result["status"] == "conflict"
    before = get(client, people, "households", hh)
    for resolution, body in (("custom", {"head_name": "Người khác"}), ("take_device", None)):
        resp = resolve(client, people["officer"], result["conflict_id"], resolution, body)
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (403, "forbidden")
        assert get(client, people, "households", hh) == before
    resp = resolve(client, people["official"], result["conflict_id"], "take_device")
    assert resp.status_code == 200 and resp.get_json()["record"]["data"]["head_name"] == "Hồ Văn Hai"


def test_a_household_holding_programme_history_cannot_be_deleted(app, client, people):
    field, desk = people["collaborator"], people["officer"]
    hh, reg = approved_household(client, people)
    bare = field.create("households", f.household(TRA_DOC))  # a form still submitted: no history yet
    field.create("registrations", new_registration(bare))
    paid_off = field.create("households", f.household(TRA_DOC))  # only a cancelled payout
    field.push()
    desk.create("payouts", f.payout(paid_off, status="cancelled"))
    desk.push()

    for name in ("collaborator", "official"):
        phone = people[name]
        phone.outbox.append(change("households", hh, {}, 1, op="delete"))
        result = only(phone.push())
        assert (result["status"], result["errors"]["code"]) == ("rejected", "locked")
        assert result["errors"]["details"] == {"registrations": [reg]}
        with app.app_context():
            kept = SqlStore().get_rejected_change(result["change_id"])
            assert (kept.op, kept.errors["code"], kept.device_id) == ("delete", "locked", phone.device_id)
    assert get(client, people, "households", hh)["deleted"] is False
    for record_id in (bare, paid_off):
        field.outbox.append(change("households", record_id, {}, 1, op="delete"))
        assert only(field.push())["status"] == "applied"
    # An admin repairing data may.
    people["admin"].outbox.append(change("households", hh, {}, 1, op="delete"))
    assert only(people["admin"].push())["status"] == "applied"


HISTORY = {
    "planned support": ("support_items", {}),
    "delivered support": ("support_items", {"status": "delivered", "delivered_on": "2020-07-02"}),
    "pending payout": ("payouts", {}),
    "disbursed payout": ("payouts", {"status": "disbursed", "disbursed_on": "2020-09-15"}),
}


@pytest.mark.parametrize("case", HISTORY)
def test_support_or_a_payout_keeps_its_household(client, people, case):
    entity, fields = HISTORY[case]
    if entity == "support_items":  # planned for an approved form only
        hh, reg = approved_household(client, people)
        data = f.support_item(hh, reg, **fields)
    else:  # a payout needs no form: the household holds nothing else
        hh = people["collaborator"].create("households", f.household(TRA_DOC))
        people["collaborator"].push()
        data = f.payout(hh, **fields)
    item = people["officer"].create(entity, data)
    people["officer"].push()
    people["collaborator"].outbox.append(change("households", hh, {}, 1, op="delete"))
    result = only(people["collaborator"].push())
    assert (result["status"], result["errors"]["code"]) == ("rejected", "locked")
    assert item in result["errors"]["details"][entity]
    assert get(client, people, "households", hh)["deleted"] is False


def test_a_form_is_not_decided_while_a_delete_conflict_holds_its_household(client, people, auth):
    field, official = people["collaborator"], people["official"]
    hh = field.create("households", f.household(TRA_DOC))
    reg = field.create("registrations", new_registration(hh))
    field.push()
    data = get(client, people, "households", hh)["data"]
    other = Phone(client, auth.headers("collaborator", TRA_DOC))
    other.outbox.append(change("households", hh, {**data, "members": 6}, 1))
    assert only(other.push())["status"] == "applied"
    field.outbox.append(change("households", hh, {}, 1, op="delete"))  # stale: a person decides
    conflict = only(field.push())
    assert conflict["status"] == "conflict"
    # The open conflict on the household holds the form: it cannot be decided meanwhile (the
    # hold of sync/holds.py), so no resolution can come after a decision it would undo.
    held = client.post(
        f"/api/v1/registrations/{reg}/decision",
        json={"decision": "approve", "note": None, "version": 1},
        headers=official.headers,
    )
    assert (held.status_code, held.get_json()["error"]["code"]) == (409, "conflict_open")
    assert held.get_json()["error"]["details"]["conflict_id"] == conflict["conflict_id"]
    resp = resolve(client, official, conflict["conflict_id"], "take_device")
    # A household with a submitted form may be deleted by its collaborator: the delete goes on.
    assert resp.status_code == 200, resp.get_json()
    assert get(client, people, "households", hh)["deleted"] is True
