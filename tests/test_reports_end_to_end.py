"""From the phone to the provincial table: forms synced, decided by the commune, counted.

A collaborator of Trà Đốc (Bắc Trà My) registers five households offline and syncs; the
commune official approves three forms, rejects one and returns one; the collaborator then
deletes one approved household (a duplicate). The district's report counts what is left.
"""

from __future__ import annotations

from datetime import timedelta

from server.clock import today
from tests.factories import household, registration
from tests.phones import Phone

URL = "/api/v1/reports/exit-registrations"


def new_registration(household_id: str, kind: str, members: int) -> dict:
    data = registration(household_id, kind=kind, members=members)
    for server_field in ("status", "submitted_at", "decided_by", "decided_at", "decision_note"):
        data.pop(server_field)
    return data


def test_synced_and_decided_forms_reach_the_report(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    forms = {}
    for name, kind, members in [
        ("approved", "exit_poverty", 5),
        ("approved_then_deleted", "exit_poverty", 3),
        ("approved_near_poor", "exit_near_poverty", 4),
        ("rejected", "exit_poverty", 6),
        ("returned", "exit_poverty", 2),
    ]:
        category = "near_poor" if kind == "exit_near_poverty" else "poor"
        hid = phone.create("households", household(members=members, category=category))
        forms[name] = (hid, phone.create("registrations", new_registration(hid, kind, members)))
    phone.sync()
    official = auth.headers("commune_official")
    for name, decision in [
        ("approved", "approve"),
        ("approved_then_deleted", "approve"),
        ("approved_near_poor", "approve"),
        ("rejected", "reject"),
        ("returned", "return"),
    ]:
        url = f"/api/v1/registrations/{forms[name][1]}/decision"
        resp = client.post(url, json={"decision": decision, "note": "", "version": 1}, headers=official)
        assert resp.status_code == 200, resp.get_json()
    phone.pull()
    # A household holding a decided form is locked for the phone; an admin repairing data may.
    admin = Phone(client, auth.headers("admin", "49"))
    admin.pull()
    admin.delete("households", forms["approved_then_deleted"][0])
    assert admin.sync()["results"][0]["status"] == "applied"
    district = auth.headers("district_officer", "515")

    report = client.get(URL, query_string={"year": 2020}, headers=district).get_json()

    (row,) = report["districts"]
    assert row["code"] == "515"
    assert (row["poor"]["households"], row["poor"]["persons"]) == (1, 5)
    assert row["near_poor"] == {"households": 1, "persons": 4}
    # The approvals were made today: the table of yesterday had none of them.
    with app.app_context():
        yesterday = (today() - timedelta(days=1)).isoformat()
    before = client.get(URL, query_string={"year": 2020, "as_of": yesterday}, headers=district).get_json()
    assert before["totals"]["poor"]["households"] == 0 and before["totals"]["near_poor"]["households"] == 0
