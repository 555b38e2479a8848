"""The tables of sync/lifecycles.py, walked: every move, by every role, through every door.

For each move of the support item and payout lifecycles and each role, a record waits at the
move's source in Trà Đốc, and the role makes the move through a push, the district's web desk,
an ODK form and a conflict resolution. The table alone says who may (`may(role, move.act)`, or
an admin repairing data); every door must answer the same - the move made, or refused with the
record unchanged - and every move the lifecycle lacks (back, or skipping a step) is refused as
`invalid_transition` for the district officer, who otherwise may make them all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from sync.actors import ADMIN, COLLABORATOR, COMMUNE_OFFICIAL, DISTRICT_OFFICER, ROLES, SUPERVISOR
from sync.lifecycles import (
    DECIDE,
    DECISIONS,
    LIFECYCLES,
    PAYOUT_LIFE,
    REPAIR,
    RESOLVE,
    SUPPORT_ITEM_LIFE,
    WRITE_ACTS,
    Lifecycle,
    may,
)
from tests import factories as f
from tests.odk.collect import Collect
from tests.odk.samples import FOLLOW_UP_ANSWERS, PAYOUT_RECEIPT_ANSWERS, fill_instance
from tests.phones import Phone, change
from tests.test_lifecycle import BAC_TRA_MY, TRA_DOC, decide, new_registration
from tests.web.pages import PageSession

HOME = {
    COLLABORATOR: TRA_DOC,
    COMMUNE_OFFICIAL: TRA_DOC,
    DISTRICT_OFFICER: BAC_TRA_MY,
    SUPERVISOR: "49",
    ADMIN: "49",
}
DAY = "2020-09-20"
MOVES = [(life, move) for life in (SUPPORT_ITEM_LIFE, PAYOUT_LIFE) for move in life.moves]
NOT_MOVES = [
    (life, source, target)
    for life in (SUPPORT_ITEM_LIFE, PAYOUT_LIFE)
    for source in life.states
    for target in life.states
    if source != target and life.move(source, target) is None
]
DESK_ACTIONS = {
    "payouts": {"approved": "approve", "disbursed": "disburse", "cancelled": "cancel"},
    "support_items": {"delivered": "deliver", "cancelled": "cancel"},
}
STATUS = {None: 201, "forbidden": 403, "invalid_transition": 409}
ODK_FORMS = {  # the forms a field visit moves a record with: (form, answers, the id's question)
    ("support_items", "delivered"): ("follow_up_visit", FOLLOW_UP_ANSWERS, "support_item_id"),
    ("payouts", "confirmed"): ("payout_receipt", PAYOUT_RECEIPT_ANSWERS, "payout_id"),
}


@dataclass(frozen=True)
class Case:
    """One role making one move (or one the lifecycle lacks) on one record."""

    life: Lifecycle
    source: str
    target: str
    role: str
    made: bool  # what the table says: the move is made, or refused with `code`
    code: str | None

    @property
    def entity(self) -> str:
        return self.life.entity

    @property
    def dates(self) -> dict:
        """The dates a record must carry at the target (so a missing move is not a missing date)."""
        return {name: DAY for name in self.life.required_dates(self.target)}


def cases(door=lambda entity, target: True) -> list[Case]:
    """Every move by every role, and every missing move by the district, through `door`."""
    walked = [
        Case(life, move.source, move.target, role, made, None if made else "forbidden")
        for life, move in MOVES
        for role in ROLES
        for made in [may(role, REPAIR) or may(role, move.act)]
    ]
    walked += [
        Case(life, source, target, DISTRICT_OFFICER, False, "invalid_transition")
        for life, source, target in NOT_MOVES
    ]
    return [case for case in walked if door(case.entity, case.target)]


class Desk:
    """One approved form of one Trà Đốc household, and a user of every role."""

    def __init__(self, client, auth):
        self.client, self.auth = client, auth
        self.users = {role: auth.user(role, HOME[role]) for role in ROLES}
        self.headers = {role: auth.headers(username=name) for role, name in self.users.items()}
        self.officer = Phone(client, self.headers[DISTRICT_OFFICER])
        collaborator = Phone(client, self.headers[COLLABORATOR])
        self.hh = collaborator.create("households", f.household(TRA_DOC))
        self.reg = collaborator.create("registrations", new_registration(self.hh))
        collaborator.push()
        decide(client, self.headers[COMMUNE_OFFICIAL], self.reg, "approve", 1)

    def at(self, life, state: str) -> dict:
        dates = {name: DAY for name in life.required_dates(state)}
        build = f.payout if life is PAYOUT_LIFE else f.support_item
        return build(self.hh, self.reg, status=state, **dates)

    def seed(self, walked: list[Case]) -> list[str]:
        """One record per case, created by the district at the case's source state."""
        ids = [self.officer.create(case.entity, self.data(case)) for case in walked]
        assert {r["status"] for r in self.officer.push()["results"]} == {"applied"}
        return ids

    def data(self, case: Case, **fields) -> dict:
        return {**self.at(case.life, case.source), **case.dates, **fields}

    def status(self, case: Case, record_id: str) -> str:
        """The record's status now, checked against the table: moved, or not at all."""
        resp = self.client.get(f"/api/v1/{case.entity}/{record_id}", headers=self.headers[SUPERVISOR])
        status = resp.get_json()["data"]["status"]
        assert status == (case.target if case.made else case.source), case
        return status

    def record(self, entity: str, record_id: str) -> dict:
        resp = self.client.get(f"/api/v1/{entity}/{record_id}", headers=self.headers[SUPERVISOR])
        return resp.get_json()


@pytest.fixture
def desk(client, auth) -> Desk:
    return Desk(client, auth)


def test_a_push_makes_exactly_the_moves_the_table_allows(desk):
    walked = cases()
    ids = desk.seed(walked)
    for role in ROLES:
        mine = [(case, record_id) for case, record_id in zip(walked, ids, strict=True) if case.role == role]
        phone = Phone(desk.client, desk.headers[role])
        for case, record_id in mine:
            phone.outbox.append(change(case.entity, record_id, desk.data(case, status=case.target), 1))
        for (case, record_id), result in zip(mine, phone.push()["results"], strict=True):
            outcome = ("applied", None) if case.made else ("rejected", case.code)
            assert (result["status"], (result["errors"] or {}).get("code")) == outcome, (case, result)
            desk.status(case, record_id)


def test_the_web_desk_makes_exactly_the_moves_the_table_allows(app, desk):
    walked = cases(lambda entity, target: target in DESK_ACTIONS[entity])
    ids = desk.seed(walked)
    pages = {role: PageSession(app, desk.users[role]) for role in ROLES}
    for case, record_id in zip(walked, ids, strict=True):
        path = "payouts" if case.life is PAYOUT_LIFE else "support-items"
        action = DESK_ACTIONS[case.entity][case.target]
        resp = pages[case.role].post(f"/web/{path}/{record_id}/{action}", {"version": "1", **case.dates})
        # The desk is the district's: other roles are refused at the door, the rest by the engine.
        at_desk = may(case.role, WRITE_ACTS[case.entity])
        assert resp.status_code == (302 if at_desk else 403), case
        desk.status(replace(case, made=case.made and at_desk), record_id)


def test_an_odk_visit_makes_exactly_the_moves_the_table_allows(desk):
    walked = cases(lambda entity, target: (entity, target) in ODK_FORMS)
    ids = desk.seed(walked)
    for case, record_id in zip(walked, ids, strict=True):
        form, answers, question = ODK_FORMS[(case.entity, case.target)]
        xml = fill_instance(
            form, {**answers, "household_id": desk.hh, question: record_id}, str(uuid.uuid4())
        )
        resp = Collect(desk.client, desk.users[case.role]).submit(xml)
        assert resp.status_code == STATUS[case.code], (case, resp.data[:300])
        desk.status(case, record_id)


def test_a_conflict_resolution_makes_exactly_the_moves_the_table_allows(desk):
    walked = cases()
    ids = desk.seed(walked)
    # Two district desks edit each record's amount from version 1: the second is a conflict.
    for amount in (7_000_000, 8_000_000):
        for case, record_id in zip(walked, ids, strict=True):
            desk.officer.outbox.append(change(case.entity, record_id, desk.data(case, amount_vnd=amount), 1))
        conflicts = [result["conflict_id"] for result in desk.officer.push()["results"]]
    assert all(conflicts)
    for case, record_id, conflict_id in zip(walked, ids, conflicts, strict=True):
        body = {"resolution": "custom", "data": {"status": case.target}}
        resp = desk.client.post(
            f"/api/v1/conflicts/{conflict_id}/resolve", json=body, headers=desk.headers[case.role]
        )
        made = case.made and may(case.role, RESOLVE)
        code = None if made else (case.code or "forbidden")
        assert resp.status_code == (STATUS[code] if code else 200), (case, resp.get_json())
        assert code is None or resp.get_json()["error"]["code"] == code
        desk.status(replace(case, made=made), record_id)


def test_a_decision_is_made_exactly_by_the_roles_the_table_allows(desk):
    collaborator = Phone(desk.client, desk.headers[COLLABORATOR])
    walked = [(decision, role) for decision in DECISIONS for role in ROLES]
    ids = [collaborator.create("registrations", new_registration(desk.hh)) for _ in walked]
    collaborator.push()
    for (decision, role), record_id in zip(walked, ids, strict=True):
        made = may(role, DECIDE)
        decide(
            desk.client,
            desk.headers[role],
            record_id,
            decision,
            1,
            note="Ghi chú",
            expect=200 if made else 403,
        )
        resp = desk.client.get(f"/api/v1/registrations/{record_id}", headers=desk.headers[SUPERVISOR])
        expected = DECISIONS[decision].status if made else LIFECYCLES["registrations"].initial
        assert resp.get_json()["data"]["status"] == expected, (decision, role)
