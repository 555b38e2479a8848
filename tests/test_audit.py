"""The audit trail: every write, who made it, from which device and batch, what it changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.extensions import db
from server.models import AuditEntry
from tests import factories as f
from tests.phones import Phone

REG_FIELDS = ("household_id", "year", "kind", "members", "needs", "commitment", "signed_on", "notes")


def trail(client, headers, query: str = "", status: int = 200):
    resp = client.get(f"/api/v1/audit?{query}", headers=headers)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


@pytest.fixture
def story(client, auth):
    """A collaborator in Trà Đốc (515) creates a household and a form, then edits the household;
    another in Trà Leng (516) creates a household."""
    name = auth.user("collaborator", "20920")
    phone = Phone(client, auth.headers(username=name), device_id="phone-tra-doc")
    hh = phone.create("households", f.household("20920"))
    reg = phone.create("registrations", {k: f.registration(hh)[k] for k in REG_FIELDS})
    first = phone.push()
    phone.pull()
    phone.edit("households", hh, members=6)
    phone.push(batch_id="2c1f3a52-6e0b-4a4c-9d0e-0f4b8f1e0a11")
    other = Phone(client, auth.headers("collaborator", "20935"))
    far = other.create("households", f.household("20935"))
    other.push()
    return {"user": name, "hh": hh, "reg": reg, "far": far, "batch": first["batch_id"]}


def test_a_supervisor_reads_every_write_in_order(client, auth, story):
    body = trail(client, auth.headers("supervisor"))
    assert [(e["entity"], e["record_id"], e["action"], e["version"]) for e in body["items"]] == [
        ("households", story["hh"], "create", 1),
        ("registrations", story["reg"], "create", 1),
        ("households", story["hh"], "update", 2),
        ("households", story["far"], "create", 1),
    ]
    edit = body["items"][2]
    assert edit["actor"] == story["user"] and edit["device_id"] == "phone-tra-doc"
    assert edit["batch_id"] == "2c1f3a52-6e0b-4a4c-9d0e-0f4b8f1e0a11"
    assert edit["before"] == {"members": 4} and edit["after"] == {"members": 6}
    assert body["items"][0]["batch_id"] == story["batch"]
    assert body["items"][0]["after"]["head_name"] == "Hồ Văn Thương"
    assert body["cursor"] is None


def test_filters_by_entity_record_actor_and_time(app, client, auth, story):
    headers = auth.headers("supervisor")

    def records(query):
        return [(e["record_id"], e["version"]) for e in trail(client, headers, query)["items"]]

    assert records("entity=registrations") == [(story["reg"], 1)]
    assert records(f"id={story['hh']}") == [(story["hh"], 1), (story["hh"], 2)]
    assert records(f"id={story['hh'].upper()}&entity=households") == [(story["hh"], 1), (story["hh"], 2)]
    assert len(records(f"actor={story['user']}")) == 3
    assert records("actor=nobody") == []
    with app.app_context():  # move the first two entries back in time to tell days apart
        db.session.query(AuditEntry).filter(
            AuditEntry.version == 1, AuditEntry.record_id != story["far"]
        ).update(
            {"at": datetime(2020, 6, 1, 16, 30, tzinfo=UTC)}  # 23:30 on 1 June in Vietnam
        )
        db.session.commit()
    assert len(records("since=2020-06-01")) == 4
    assert len(records("since=2020-06-02")) == 2  # the day starts at 17:00 UTC on 1 June
    assert len(records("since=2020-06-01T23:00:00%2B07:00")) == 4
    assert len(records("since=2020-06-02T00:00:00%2B07:00")) == 2


def test_scope_and_roles(client, auth, story):
    officer = trail(client, auth.headers("district_officer", "515"))
    assert {e["record_id"] for e in officer["items"]} == {story["hh"], story["reg"]}
    official = trail(client, auth.headers("commune_official", "20935"))
    assert [e["record_id"] for e in official["items"]] == [story["far"]]
    forbidden = trail(client, auth.headers("collaborator", "20920"), "", 403)
    assert forbidden["error"]["code"] == "forbidden"
    assert client.get("/api/v1/audit").status_code == 401


def test_pages(client, auth, story):
    headers = auth.headers("supervisor")
    first = trail(client, headers, "limit=3")
    assert len(first["items"]) == 3 and first["cursor"]
    rest = trail(client, headers, f"limit=3&cursor={first['cursor']}")
    assert [e["record_id"] for e in rest["items"]] == [story["far"]] and rest["cursor"] is None
    assert trail(client, headers, "cursor=abc", 422)["error"]["details"]["cursor"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("entity=people", "entity"),
        ("since=2020-02-30", "since"),
        ("since=2020-06-01T10:00:00", "since"),  # no offset
        ("limit=0", "limit"),
        ("who=me", "who"),
    ],
)
def test_bad_queries(client, auth, query, field):
    body = trail(client, auth.headers("supervisor"), query, 422)
    assert field in body["error"]["details"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_trail_cannot_be_changed(client, auth, story, method):
    headers = auth.headers("admin")
    resp = getattr(client, method)("/api/v1/audit", json={}, headers=headers)
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    assert len(trail(client, headers)["items"]) == 4
