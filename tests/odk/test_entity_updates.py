"""Forms that update entities go through the engine: ``baseVersion`` is the change's base.

A phone fills a form against its copy of a household (``households.csv`` at version N).
If an official moved the household on meanwhile, the form's answers are merged field by
field, or kept as a conflict for a person to resolve, never silently written over. Collect's
offline chain (several forms about one household before the phone syncs, one ``branchId``)
applies in order and never conflicts with itself.
"""

from __future__ import annotations

import uuid

import pytest

from tests.factories import household, put, registration
from tests.odk.collect import Collect, message_of
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, fill_instance, with_entity
from tests.phones import Phone

COMMUNE = "20920"


def registration_of(household_id: str, *, base: int, year: str = "2020", trunk: str = "", branch: str = "",
                    **answers: str) -> bytes:  # fmt: skip
    """An exit-registration form choosing the existing household from the phone's list."""
    filled = {
        **EXIT_REGISTRATION_ANSWERS,
        "commune_code": COMMUNE,
        "household_mode": "existing",
        "household_pick": household_id,
        "household_id": household_id,
        "year": year,
        **answers,
    }
    xml = fill_instance("exit_registration", filled, str(uuid.uuid4()))
    return with_entity(
        xml, dataset="households", id=household_id, create="0", update="1", baseVersion=str(base),
        trunkVersion=trunk, branchId=branch,
    )  # fmt: skip


@pytest.fixture
def lan(app):
    """Hồ Thị Xuân Lan's household, on every phone's list at version 1."""
    with app.app_context():
        return put(
            "households",
            household(
                COMMUNE, head_name="Hồ Thị Xuân Lan", code="HN-9", village="Thôn 4", members=4, phone=None
            ),
        )


@pytest.fixture
def collect(client, auth) -> Collect:
    return Collect(client, auth.user("collaborator", COMMUNE))


@pytest.fixture
def official(client, auth, lan) -> Phone:
    phone = Phone(client, auth.headers("commune_official", COMMUNE))
    phone.pull()
    return phone


def current(client, auth, household_id: str) -> dict:
    resp = client.get(f"/api/v1/households/{household_id}", headers=auth.headers("supervisor"))
    return resp.get_json()


def test_a_registration_choosing_an_existing_household_updates_it_and_registers_it(
    client, auth, collect, lan
):
    form = registration_of(lan, base=1, head_name="Hồ Thị Xuân Lan", household_code="HN-9", village="Thôn 4",
                           members="5")  # fmt: skip
    assert collect.submit(form).status_code == 201
    record = current(client, auth, lan)
    assert (record["version"], record["data"]["members"], record["data"]["code"]) == (2, 5, "HN-9")
    registrations = client.get(
        f"/api/v1/registrations?household_id={lan}", headers=auth.headers("supervisor")
    )
    assert [r["data"]["household_id"] for r in registrations.get_json()["items"]] == [lan]


def test_an_offline_edit_against_a_stale_base_version_merges_field_by_field(
    client, auth, collect, official, lan
):
    official.edit("households", lan, phone="0905123456")  # the server moves to version 2
    assert official.push()["results"][0]["status"] == "applied"
    form = registration_of(lan, base=1, head_name="Hồ Thị Xuân Lan", household_code="HN-9", village="Thôn 4",
                           members="5")  # fmt: skip
    resp = collect.submit(form)
    assert resp.status_code == 201, message_of(resp)
    record = current(client, auth, lan)
    # Both kept: the official's phone number and the form's member count.
    assert (record["version"], record["data"]["phone"], record["data"]["members"]) == (3, "0905123456", 5)


def test_an_offline_edit_of_the_same_field_is_a_conflict_the_official_sees(
    client, auth, collect, official, lan
):
    official.edit("households", lan, members=6)
    official.push()
    form = registration_of(lan, base=1, head_name="Hồ Thị Xuân Lan", household_code="HN-9", village="Thôn 4",
                           members="7")  # fmt: skip
    resp = collect.submit(form)
    assert resp.status_code == 201
    assert "supervisor" in message_of(resp)[0]
    assert current(client, auth, lan)["data"]["members"] == 6  # the server's value stays until resolved
    conflicts = client.get(
        "/api/v1/conflicts?status=open", headers=auth.headers("commune_official", COMMUNE)
    ).get_json()["items"]
    (conflict,) = [c for c in conflicts if c["record_id"] == lan]
    assert conflict["base_version"] == 1
    assert "members" in str(conflict)


def test_a_phones_offline_chain_of_updates_applies_in_order_without_conflicting_with_itself(
    client, auth, collect, official, lan
):
    branch = str(uuid.uuid4())
    # Offline: form 1 made the phone's copy version 2 (members 5), form 2 built on it (members 6).
    first = registration_of(lan, base=1, trunk="1", branch=branch, head_name="Hồ Thị Xuân Lan",
                            household_code="HN-9", village="Thôn 4", members="5")  # fmt: skip
    second = registration_of(lan, base=2, trunk="1", branch=branch, year="2021", head_name="Hồ Thị Xuân Lan",
                             household_code="HN-9", village="Thôn 4", members="6")  # fmt: skip
    # Meanwhile the official changed the phone number: the server's version 2 is not the phone's.
    official.edit("households", lan, phone="0905123456")
    official.push()
    assert collect.submit(first).status_code == 201
    assert collect.submit(second).status_code == 201
    record = current(client, auth, lan)
    assert (record["version"], record["data"]["members"], record["data"]["phone"]) == (4, 6, "0905123456")
    conflicts = client.get("/api/v1/conflicts?status=open", headers=auth.headers("supervisor")).get_json()
    assert [c for c in conflicts["items"] if c["record_id"] == lan] == []


def test_a_returned_registration_corrected_from_the_list_updates_the_same_registration(
    app, client, auth, collect, lan
):
    with app.app_context():
        returned = put(
            "registrations",
            registration(lan, status="returned", decision_note="Thiếu chữ ký", members=4),
            commune_code=COMMUNE,
        )
    form = registration_of(lan, base=1, head_name="Hồ Thị Xuân Lan", household_code="HN-9", village="Thôn 4",
                           members="4", registration_id=returned, registration_version="1")  # fmt: skip
    resp = collect.submit(form)
    assert resp.status_code == 201, message_of(resp)
    record = client.get(f"/api/v1/registrations/{returned}", headers=auth.headers("supervisor")).get_json()
    assert (record["version"], record["data"]["status"]) == (2, "submitted")
    registrations = client.get(
        f"/api/v1/registrations?household_id={lan}", headers=auth.headers("supervisor")
    )
    assert [r["id"] for r in registrations.get_json()["items"]] == [returned]  # no second registration
