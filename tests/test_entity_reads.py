"""Reading records: one by id, or a filtered list a page at a time, always inside one's units."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.phones import Phone


def get(client, headers, url, status=200):
    resp = client.get(url, headers=headers)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_a_record_reads_back_exactly_as_pulled(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", f.household(head_name="Hồ Thị Ngọc Ánh", notes="Thôn 3, gần suối"))
    reg = phone.create(
        "registrations", {k: v for k, v in f.registration(hh).items() if k not in SERVER_FIELDS}
    )
    phone.sync()
    for entity, record_id in (("households", hh), ("registrations", reg)):
        body = get(client, phone.headers, f"/api/v1/{entity}/{record_id}")
        assert body == phone.get(entity, record_id)
    assert get(client, phone.headers, f"/api/v1/households/{hh}")["data"]["head_name"] == "Hồ Thị Ngọc Ánh"
    # Any spelling of the UUID names the same record.
    assert get(client, phone.headers, f"/api/v1/households/{hh.upper()}")["id"] == hh


SERVER_FIELDS = {"status", "submitted_at", "decided_by", "decided_at", "decision_note"}


def test_a_record_outside_ones_units_is_not_found(app, client, auth):
    with app.app_context():
        elsewhere = f.put("households", f.household("20935"))  # Nam Trà My
        here = f.put("households", f.household("20920"))
    officer = auth.headers("district_officer", "515")
    body = get(client, officer, f"/api/v1/households/{elsewhere}", 404)
    assert body["error"]["code"] == "not_found"
    assert get(client, officer, f"/api/v1/households/{here}")["id"] == here
    assert get(client, officer, f"/api/v1/households/{f.new_id()}", 404)["error"]["code"] == "not_found"
    assert get(client, officer, "/api/v1/households/not-a-uuid", 404)["error"]["code"] == "not_found"
    assert (
        get(client, officer, f"/api/v1/payouts/{here}", 404)["error"]["code"] == "not_found"
    )  # wrong entity
    assert client.get(f"/api/v1/households/{here}").status_code == 401


def test_a_deleted_record_reads_as_a_tombstone(app, client, auth):
    with app.app_context():
        hh = f.put("households", f.household())
        f.put("households", f.household(), record_id=hh, version=2, deleted=True)
    headers = auth.headers("collaborator")
    body = get(client, headers, f"/api/v1/households/{hh}")
    assert body["deleted"] is True and body["version"] == 2 and body["data"]["village"] == "Thôn 2"
    assert get(client, headers, "/api/v1/households")["items"] == []
    assert [r["id"] for r in get(client, headers, "/api/v1/households?include_deleted=true")["items"]] == [hh]


def test_a_list_serves_the_current_version_of_each_record(app, client, auth):
    with app.app_context():
        hh = f.put("households", f.household(members=4))
        f.put("households", f.household(members=5), record_id=hh, version=2)
    body = get(client, auth.headers("supervisor"), "/api/v1/households")
    assert [(r["id"], r["version"], r["data"]["members"]) for r in body["items"]] == [(hh, 2, 5)]
    assert body["cursor"] is None


def test_pages_cover_every_record_once_in_id_order(app, client, auth):
    with app.app_context():
        ids = sorted(f.put("households", f.household(commune)) for commune in ["20920"] * 7 + ["20935"] * 3)
    headers = auth.headers("supervisor")
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/households?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = get(client, headers, url)
        seen += [r["id"] for r in body["items"]]
        pages += 1
        cursor = body["cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 4
    default = get(client, headers, "/api/v1/households")
    assert len(default["items"]) == 10 and default["cursor"] is None
    exact = get(client, headers, "/api/v1/households?limit=10")
    assert exact["cursor"] is None  # no empty last page
    officer = get(client, auth.headers("district_officer", "516"), "/api/v1/households?limit=2")
    assert len(officer["items"]) == 2 and officer["cursor"] is not None


def test_filters(app, client, auth):
    with app.app_context():
        hh1, hh2 = f.put("households", f.household("20920")), f.put("households", f.household("20900"))
        r2020 = f.put("registrations", f.registration(hh1), commune_code="20920")
        r2019 = f.put(
            "registrations", f.registration(hh1, year=2019, status="approved"), commune_code="20920"
        )
        r_other = f.put("registrations", f.registration(hh2), commune_code="20900")
        s2020 = f.put("support_items", f.support_item(hh1, r2020), commune_code="20920")
        s2019 = f.put("support_items", f.support_item(hh1, r2019, status="cancelled"), commune_code="20920")
        p1 = f.put("payouts", f.payout(hh1, recognized_year=2019), commune_code="20920")
        p2 = f.put("payouts", f.payout(hh2, status="approved"), commune_code="20900")
    headers = auth.headers("district_officer", "515")

    def ids(url):
        return {r["id"] for r in get(client, headers, url)["items"]}

    assert ids("/api/v1/registrations?year=2020") == {r2020, r_other}
    assert ids("/api/v1/registrations?status=approved") == {r2019}
    assert ids(f"/api/v1/registrations?household_id={hh1}") == {r2020, r2019}
    assert ids("/api/v1/registrations?unit=20900") == {r_other}
    assert ids("/api/v1/registrations?unit=515&year=2020&status=submitted") == {r2020, r_other}
    assert ids("/api/v1/support_items?year=2019") == {s2019}
    assert ids("/api/v1/support_items?status=planned") == {s2020}
    assert ids("/api/v1/payouts?year=2019") == {p1}
    assert ids("/api/v1/payouts?status=approved&unit=20900") == {p2}
    assert ids("/api/v1/households?unit=20920") == {hh1}


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/households?status=submitted", "status"),
        ("/api/v1/households?year=2020", "year"),
        ("/api/v1/registrations?status=paid", "status"),
        ("/api/v1/payouts?status=submitted", "status"),
        ("/api/v1/payouts?limit=0", "limit"),
        ("/api/v1/payouts?limit=1001", "limit"),
        ("/api/v1/payouts?household_id=x", "household_id"),
        ("/api/v1/payouts?colour=red", "colour"),
        ("/api/v1/payouts?cursor=forged", "cursor"),
    ],
)
def test_bad_list_queries_are_refused(client, auth, url, field):
    body = get(client, auth.headers("supervisor"), url, 422)
    assert body["error"]["code"] == "validation_error" and field in body["error"]["details"]


def test_a_cursor_belongs_to_its_list(app, client, auth):
    with app.app_context():
        hh = [f.put("households", f.household()) for _ in range(3)]
        for h in hh:
            f.put("payouts", f.payout(h), commune_code="20920")
    headers = auth.headers("supervisor")
    cursor = get(client, headers, "/api/v1/households?limit=1")["cursor"]
    assert get(client, headers, f"/api/v1/payouts?cursor={cursor}", 422)["error"]["details"]["cursor"]


def test_unit_filter_outside_scope_is_not_found(client, auth):
    official = auth.headers("commune_official", "20920")
    assert get(client, official, "/api/v1/households?unit=20900", 404)["error"]["code"] == "not_found"
    assert get(client, official, "/api/v1/households?unit=515", 404)["error"]["code"] == "not_found"
    assert get(client, official, "/api/v1/households?unit=20920")["items"] == []


def test_reads_do_not_write(client, auth):
    headers = auth.headers("admin")
    resp = client.put(f"/api/v1/households/{f.new_id()}", json={}, headers=headers)
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    assert client.post("/api/v1/payouts", json={}, headers=headers).status_code == 405
