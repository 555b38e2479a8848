"""Every wrong role and every wrong move of a registration's life, refused with the contract's code.

One world, built through the HTTP endpoints as the real users would: in Trà Đốc (20920, Bắc Trà
My district 515) an approved registration with support planned and payouts at each stage, and a
second household whose form is still submitted. Each case pushes one change (or asks for one
decision) as the wrong person or the wrong move, and checks the code, that nothing changed, and
that the refused change is kept for supervisors. The happy path is tests/test_lifecycle.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import RejectedChange
from tests import factories as f
from tests.phones import Phone, change, statuses
from tests.test_lifecycle import BAC_TRA_MY, TRA_DOC, TRA_SON, decide, new_registration, only

CH_OM, NAM_GIANG = "20437", "504"  # a commune and district far from Bắc Trà My
PAID = {"disbursed_on": "2020-09-15"}


@dataclass
class World:
    client: object
    phones: dict[str, Phone]
    ids: dict[str, str]
    headers: dict[str, dict] = field(default_factory=dict)

    def current(self, entity: str, name: str) -> dict:
        resp = self.client.get(
            f"/api/v1/{entity}/{self.ids[name]}", headers=self.phones["supervisor"].headers
        )
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()


@pytest.fixture
def world(client, auth) -> World:
    roles = {
        "collaborator": ("collaborator", TRA_DOC),
        "official": ("commune_official", TRA_DOC),
        "officer": ("district_officer", BAC_TRA_MY),
        "supervisor": ("supervisor", "49"),
        "admin": ("admin", "49"),
        "neighbour": ("collaborator", TRA_SON),  # same district, another commune
        "far_officer": ("district_officer", NAM_GIANG),
    }
    headers = {name: auth.headers(role, unit) for name, (role, unit) in roles.items()}
    phones = {name: Phone(client, h, device_id=f"device-{name}") for name, h in headers.items()}
    field_phone, desk = phones["collaborator"], phones["officer"]
    ids = {}
    ids["hh"] = field_phone.create("households", f.household(TRA_DOC))
    ids["reg"] = field_phone.create("registrations", new_registration(ids["hh"]))
    ids["hh2"] = field_phone.create("households", f.household(TRA_DOC))
    ids["reg2"] = field_phone.create("registrations", new_registration(ids["hh2"]))
    assert set(statuses(field_phone.push())) == {"applied"}
    decide(client, headers["official"], ids["reg"], "approve", 1, note="Đủ điều kiện")
    hh, reg = ids["hh"], ids["reg"]
    ids["item"] = desk.create("support_items", f.support_item(hh, reg))
    ids["cancelled_item"] = desk.create("support_items", f.support_item(hh, reg, status="cancelled"))
    ids["pending"] = desk.create("payouts", f.payout(hh, reg))
    ids["approved"] = desk.create("payouts", f.payout(hh, reg, status="approved"))
    # Paid on paper before the system: recorded as disbursed with its date.
    ids["disbursed"] = desk.create("payouts", f.payout(hh, reg, status="disbursed", **PAID))
    assert set(statuses(desk.push())) == {"applied"}
    for phone in phones.values():
        phone.pull()
    return World(client, phones, ids, headers)


def new(entity, data):
    return lambda w: (entity, None, data(w), None, "upsert")


def edit(entity, name, **fields):
    return lambda w: (entity, name, {**w.current(entity, name)["data"], **fields}, None, "upsert")


def delete(entity, name):
    return lambda w: (entity, name, {}, None, "delete")


def item_for(reg: str, **fields):
    return lambda w: f.support_item(w.ids[reg.replace("reg", "hh")], w.ids[reg], **fields)


def payout_for(**fields):
    return lambda w: f.payout(w.ids["hh"], w.ids["reg"], **fields)


def household_data(w):
    return f.household(TRA_DOC)


# (who pushes, what, the error code, the field named in details or None)
PUSH_REFUSALS = {
    # Support plans are the district's.
    "collaborator plans support": ("collaborator", new("support_items", item_for("reg")), "forbidden", None),
    "official plans support": ("official", new("support_items", item_for("reg")), "forbidden", None),
    "support for a registration still submitted": (
        "officer",
        new("support_items", item_for("reg2")),
        "invalid_transition",
        "registration_id",
    ),
    "support of another district's officer": (
        "far_officer",
        new("support_items", item_for("reg")),
        "not_found",
        "household_id",
    ),
    "negative support amount": (
        "officer",
        new("support_items", item_for("reg", amount_vnd=-1)),
        "validation_error",
        "amount_vnd",
    ),
    "delivered without delivered_on": (
        "collaborator",
        edit("support_items", "item", status="delivered"),
        "validation_error",
        "delivered_on",
    ),
    "collaborator changes the amount while delivering": (
        "collaborator",
        edit("support_items", "item", status="delivered", delivered_on="2020-07-10", amount_vnd=1),
        "forbidden",
        "amount_vnd",
    ),
    "collaborator cancels an item": (
        "collaborator",
        edit("support_items", "item", status="cancelled"),
        "forbidden",
        "status",
    ),
    "collaborator delivers a cancelled item": (
        "collaborator",
        edit("support_items", "cancelled_item", status="delivered", delivered_on="2020-07-10"),
        "invalid_transition",
        "status",
    ),
    "officer re-plans a cancelled item": (
        "officer",
        edit("support_items", "cancelled_item", status="planned"),
        "invalid_transition",
        "status",
    ),
    # Payouts are the district's, but for the household's confirmation of receipt.
    "official schedules a payout": ("official", new("payouts", payout_for()), "forbidden", None),
    "collaborator schedules a payout": ("collaborator", new("payouts", payout_for()), "forbidden", None),
    "collaborator approves a payout": (
        "collaborator",
        edit("payouts", "pending", status="approved"),
        "forbidden",
        "status",
    ),
    "official disburses a payout": (
        "official",
        edit("payouts", "approved", status="disbursed", **PAID),
        "forbidden",
        "disbursed_on",
    ),
    "collaborator deletes a payout": ("collaborator", delete("payouts", "pending"), "forbidden", None),
    "disbursed back to pending": (
        "officer",
        edit("payouts", "disbursed", status="pending", disbursed_on=None),
        "invalid_transition",
        "status",
    ),
    "cancelling a disbursed payout": (
        "officer",
        edit("payouts", "disbursed", status="cancelled"),
        "invalid_transition",
        "status",
    ),
    "approved back to pending": (
        "officer",
        edit("payouts", "approved", status="pending"),
        "invalid_transition",
        "status",
    ),
    "pending straight to disbursed": (
        "officer",
        edit("payouts", "pending", status="disbursed", **PAID),
        "invalid_transition",
        "status",
    ),
    "disbursed without its date": (
        "officer",
        edit("payouts", "approved", status="disbursed"),
        "validation_error",
        "disbursed_on",
    ),
    "confirmed without its date": (
        "collaborator",
        edit("payouts", "disbursed", status="confirmed"),
        "validation_error",
        "confirmed_on",
    ),
    "negative payout amount": (
        "officer",
        new("payouts", payout_for(amount_vnd=-5_000_000)),
        "validation_error",
        "amount_vnd",
    ),
    "negative amount on an edit": (
        "officer",
        edit("payouts", "pending", amount_vnd=-1),
        "validation_error",
        "amount_vnd",
    ),
    "fractional amount": (
        "officer",
        new("payouts", payout_for(amount_vnd=1_500_000.5)),
        "validation_error",
        "amount_vnd",
    ),
    "amount as text": (
        "officer",
        new("payouts", payout_for(amount_vnd="5000000")),
        "validation_error",
        "amount_vnd",
    ),
    "another commune's collaborator confirms": (
        "neighbour",
        edit("payouts", "disbursed", status="confirmed", confirmed_on="2020-09-16"),
        "not_found",
        "id",
    ),
    # Registrations: the phone's, never the district's, and locked once decided.
    "officer writes a household": ("officer", new("households", household_data), "forbidden", None),
    "officer edits a submitted form": (
        "officer",
        edit("registrations", "reg2", members=5),
        "forbidden",
        None,
    ),
    "collaborator edits an approved form": (
        "collaborator",
        edit("registrations", "reg", members=5),
        "locked",
        None,
    ),
    "official edits an approved form": (
        "official",
        edit("registrations", "reg", notes="Sửa"),
        "locked",
        None,
    ),
    "admin edits an approved form": ("admin", edit("registrations", "reg", members=5), "locked", None),
    "collaborator deletes an approved form": ("collaborator", delete("registrations", "reg"), "locked", None),
    "collaborator approves on the phone": (
        "collaborator",
        edit("registrations", "reg2", status="approved"),
        "read_only",
        "status",
    ),
    # A supervisor reads everything and writes nothing through a push.
    "supervisor creates a household": ("supervisor", new("households", household_data), "forbidden", None),
    "supervisor edits a form": ("supervisor", edit("registrations", "reg2", members=5), "forbidden", None),
    "supervisor deletes a household": ("supervisor", delete("households", "hh2"), "forbidden", None),
    "supervisor plans support": ("supervisor", new("support_items", item_for("reg")), "forbidden", None),
    "supervisor confirms a payout": (
        "supervisor",
        edit("payouts", "disbursed", status="confirmed", confirmed_on="2020-09-16"),
        "forbidden",
        None,
    ),
}


@pytest.mark.parametrize("case", PUSH_REFUSALS)
def test_a_wrong_push_is_refused_with_the_contracts_code(app, world, case):
    who, build, code, detail = PUSH_REFUSALS[case]
    entity, name, data, _, op = build(world)
    before = world.current(entity, name) if name else None
    record_id = world.ids[name] if name else str(uuid.uuid4())
    phone = world.phones[who]
    phone.outbox.append(change(entity, record_id, data, before["version"] if before else None, op=op))
    result = only(phone.push())

    assert result["status"] == "rejected"
    assert result["errors"]["code"] == code, result["errors"]
    if detail:
        assert detail in result["errors"]["details"], result["errors"]
    # Nothing changed; the refusal reports the version a phone that may see it holds.
    if before:
        assert world.current(entity, name) == before
        assert result["version"] == (before["version"] if code != "not_found" else None)
    else:
        missing = world.client.get(f"/api/v1/{entity}/{record_id}", headers=world.phones["admin"].headers)
        assert missing.status_code == 404 and result["version"] is None
    # The refused change is kept whole for supervisors.
    with app.app_context():
        kept = db.session.execute(
            select(RejectedChange).where(RejectedChange.change_id == result["change_id"])
        ).scalar_one()
        assert (kept.errors["code"], kept.data, kept.device_id) == (code, data, phone.device_id)


# (who decides, the body's changes, the registration, HTTP status, code)
DECISION_REFUSALS = {
    "collaborator approves": ("collaborator", {}, "reg2", 403, "forbidden"),
    "district officer approves": ("officer", {}, "reg2", 403, "forbidden"),
    "supervisor approves": ("supervisor", {}, "reg2", 403, "forbidden"),
    "another commune's official": ("neighbour_official", {}, "reg2", 404, "not_found"),
    "a stale version": ("official", {"version": 2}, "reg2", 409, "version_conflict"),
    "an approved form": ("official", {"version": 2, "decision": "reject"}, "reg", 409, "invalid_transition"),
    "an unknown decision": ("official", {"decision": "postpone"}, "reg2", 422, "validation_error"),
    "no version": ("official", {"version": None}, "reg2", 422, "validation_error"),
    "an unknown field": ("official", {"reason": "?"}, "reg2", 422, "validation_error"),
    "no token": (None, {}, "reg2", 401, "unauthorized"),
}


@pytest.mark.parametrize("case", DECISION_REFUSALS)
def test_a_wrong_decision_is_refused_with_the_contracts_code(auth, world, case):
    who, changes, name, status, code = DECISION_REFUSALS[case]
    if who is None:
        headers = {}
    elif who == "neighbour_official":  # same district, another commune
        headers = auth.headers("commune_official", TRA_SON)
    else:
        headers = world.headers[who]
    before = world.current("registrations", name)
    body = {"decision": "approve", "note": None, "version": before["version"], **changes}
    body = {key: value for key, value in body.items() if value is not None or key == "note"}
    resp = world.client.post(f"/api/v1/registrations/{world.ids[name]}/decision", json=body, headers=headers)
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["error"]["code"] == code
    assert world.current("registrations", name) == before
