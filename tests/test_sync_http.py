"""Sync over HTTP, told as the field tells it: phones offline, then a push and a pull."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, RecordVersion, RejectedChange
from tests.factories import household, registration
from tests.phones import Phone, change, statuses


def count(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def new_registration(household_id: str) -> dict:
    data = registration(household_id)
    for server_field in ("status", "submitted_at", "decided_by", "decided_at", "decision_note"):
        data.pop(server_field)
    return data


def test_a_household_and_its_registration_arrive_in_one_batch(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", household())
    reg = phone.create("registrations", new_registration(hh))
    result = phone.sync()
    assert statuses(result) == ["applied", "applied"]
    assert [r["version"] for r in result["results"]] == [1, 1]
    pulled = phone.get("registrations", reg)
    assert pulled["data"]["status"] == "submitted" and pulled["data"]["submitted_at"]
    assert phone.get("households", hh)["data"]["head_name"] == "Hồ Văn Thương"


def test_vietnamese_text_round_trips_exactly(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    name = "Hồ Thị Ngọc Ánh — Tổ 3, thôn Trà Đốc"
    hh = phone.create("households", household(head_name=name, notes="Hộ có 2 con đang đi học; cần bò giống"))
    phone.sync()
    assert phone.get("households", hh)["data"]["head_name"] == name


def test_a_phone_that_lost_the_response_resends_the_batch_and_nothing_doubles(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    phone.create("households", household())
    batch_id = str(uuid.uuid4())
    first = phone.push(batch_id)
    versions = count(app, RecordVersion)
    resp = client.post("/api/v1/sync/push", json=phone.last_batch, headers=phone.headers)
    assert resp.get_json() == first
    assert count(app, RecordVersion) == versions
    # the same change in a new batch (the phone rebuilt its outbox) is a duplicate
    again = client.post(
        "/api/v1/sync/push", json={**phone.last_batch, "batch_id": str(uuid.uuid4())}, headers=phone.headers
    ).get_json()
    assert statuses(again) == ["duplicate"] and again["results"][0]["version"] == 1
    assert count(app, RecordVersion) == versions


def test_two_phones_edit_different_fields_offline_and_the_second_sync_merges(client, auth):
    official = auth.user("collaborator")
    a = Phone(client, auth.headers(username=official))
    b = Phone(client, auth.headers("collaborator"))
    hh = a.create("households", household())
    a.sync()
    b.pull()
    a.edit("households", hh, members=5)
    b.edit("households", hh, phone="0905123456")
    assert statuses(a.sync()) == ["applied"]
    result = b.sync()
    assert statuses(result) == ["merged"] and result["results"][0]["version"] == 3
    a.pull()
    for phone in (a, b):
        data = phone.get("households", hh)["data"]
        assert (data["members"], data["phone"]) == (5, "0905123456")


def test_a_true_conflict_keeps_both_values_until_an_official_resolves_it(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    b = Phone(client, auth.headers("collaborator"))
    hh = a.create("households", household(members=4, village="Thôn 1"))
    a.sync()
    b.pull()
    a.edit("households", hh, members=5)
    b.edit("households", hh, members=6, village="Thôn 2")
    a.sync()
    result = b.sync()["results"][0]
    assert result["status"] == "conflict" and result["conflict_id"]
    data = b.get("households", hh)["data"]
    assert data["members"] == 5 and data["village"] == "Thôn 2"  # server kept; the rest applied

    official = auth.headers("commune_official")
    listed = client.get("/api/v1/conflicts?status=open", headers=official).get_json()["items"]
    assert len(listed) == 1
    assert listed[0]["fields"]["members"] == {"base": 4, "server": 5, "device": 6}
    assert listed[0]["record"]["data"]["members"] == 5

    resp = client.post(
        f"/api/v1/conflicts/{result['conflict_id']}/resolve",
        json={"resolution": "take_device"},
        headers=official,
    )
    assert resp.status_code == 200, resp.get_json()
    for phone in (a, b):
        phone.pull()
        assert phone.get("households", hh)["data"]["members"] == 6
    assert client.get("/api/v1/conflicts?status=open", headers=official).get_json()["items"] == []


def test_a_collaborator_cannot_resolve_conflicts(client, auth):
    resp = client.post(
        f"/api/v1/conflicts/{uuid.uuid4()}/resolve",
        json={"resolution": "keep_server"},
        headers=auth.headers("collaborator"),
    )
    assert resp.status_code == 403


def test_one_bad_change_among_good_ones_is_rejected_alone_and_kept(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    phone.create("households", household())
    phone.create("households", household(members=0, signed="x"))
    phone.create("households", household())
    result = phone.sync()
    assert statuses(result) == ["applied", "rejected", "applied"]
    errors = result["results"][1]["errors"]
    assert errors["code"] == "validation_error" and "members" in errors["details"]
    with app.app_context():
        kept = db.session.execute(select(RejectedChange)).scalar_one()
        assert kept.data["members"] == 0 and kept.commune_code == "20920"


def test_a_refused_change_sent_again_and_accepted_is_no_longer_counted_as_refused(app, client, auth):
    # The phone sent a form before its household (an interrupted sync); the resend of the
    # same change, after the household, goes through: the collaborator made no error.
    name = auth.user("collaborator")
    phone = Phone(client, auth.headers(username=name))
    hh = household()
    hh_change = change("households", str(uuid.uuid4()), hh, None)
    form = change("registrations", str(uuid.uuid4()), new_registration(hh_change["id"]), None)
    phone.outbox = [form]
    assert only_code(phone.push()) == "not_found"
    phone.outbox = [form]
    assert only_code(phone.push()) == "not_found"  # refused twice: still one refusal
    assert count(app, RejectedChange) == 1
    assert refused_count(client, auth, name) == 1
    phone.outbox = [hh_change, form]
    assert statuses(phone.push()) == ["applied", "applied"]
    assert count(app, RejectedChange) == 0
    assert refused_count(client, auth, name) == 0


def only_code(response: dict) -> str:
    (result,) = response["results"]
    return result["errors"]["code"]


def refused_count(client, auth, username: str) -> int:
    body = client.get("/api/v1/activity", headers=auth.headers("supervisor")).get_json()
    return next(row["rejected_changes"] for row in body["items"] if row["username"] == username)


def test_a_collaborator_writing_into_another_commune_is_refused(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    phone.create("households", household(commune_code="20923"))  # Trà Tân, same district
    result = phone.sync()["results"][0]
    assert result["status"] == "rejected"
    assert phone.records == {}


def test_a_delete_racing_an_edit_is_a_conflict_not_a_delete(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    b = Phone(client, auth.headers("collaborator"))
    hh = a.create("households", household())
    a.sync()
    b.pull()
    a.edit("households", hh, members=7)
    b.delete("households", hh)
    a.sync()
    result = b.sync()["results"][0]
    assert result["status"] == "conflict"
    assert b.get("households", hh)["deleted"] is False


def test_a_delete_leaves_a_tombstone_that_pulls(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    hh = a.create("households", household())
    a.sync()
    a.delete("households", hh)
    assert statuses(a.sync()) == ["applied"]
    record = a.get("households", hh)
    assert record["deleted"] is True and record["data"]["head_name"] == "Hồ Văn Thương"


def test_pull_returns_only_what_changed_each_record_once(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    ids = [a.create("households", household()) for _ in range(5)]
    a.sync()
    a.edit("households", ids[0], members=2)
    a.push()
    a.edit("households", ids[0], phone="0905123456")  # still on base 1: merges into version 3
    a.push()
    delta = a.pull()
    assert [(r["id"], r["version"]) for r in delta] == [(ids[0], 3)]
    assert a.pull() == []


def test_pull_pages_with_more_and_cursor(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    ids = {a.create("households", household()) for _ in range(7)}
    a.push()
    fresh = Phone(client, a.headers)
    assert {r["id"] for r in fresh.pull(limit=3)} == ids


def test_pull_is_scoped_to_the_callers_units(client, auth):
    here = Phone(client, auth.headers("collaborator"))
    there = Phone(client, auth.headers("collaborator", unit="20935"))  # Nam Trà My
    here.create("households", household())
    there.create("households", household(commune_code="20935"))
    here.push()
    there.push()
    assert len(here.pull()) == 1 and len(there.pull()) == 1
    district = Phone(client, auth.headers("district_officer", unit="515"))
    assert len(district.pull()) == 1
    supervisor = Phone(client, auth.headers("supervisor"))
    assert len(supervisor.pull()) == 2


def test_a_cursor_belongs_to_its_user(client, auth):
    a = Phone(client, auth.headers("collaborator"))
    a.pull()
    other = auth.headers("collaborator")
    resp = client.get(f"/api/v1/sync/pull?cursor={a.cursor}", headers=other)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "validation_error"
    resp = client.get("/api/v1/sync/pull?cursor=garbage", headers=a.headers)
    assert resp.status_code == 422


def test_pull_cursors_keep_the_form_phones_already_hold(app, client, auth):
    """Phones keep their cursor across server upgrades: [user id, feed position], signed with
    the salt the pull always used. A cursor of another list is not a pull cursor."""
    from itsdangerous import URLSafeSerializer

    from server.pages import encode_cursor

    a = Phone(client, auth.headers("collaborator"))
    a.create("households", household())
    a.push()
    assert len(a.pull()) == 1
    old_form = URLSafeSerializer(app.config["SECRET_KEY"], salt="sync-pull-cursor")
    owner, position = old_form.loads(a.cursor)
    assert isinstance(owner, int) and isinstance(position, int)
    resp = client.get(f"/api/v1/sync/pull?cursor={old_form.dumps([owner, 0])}", headers=a.headers)
    assert resp.status_code == 200 and len(resp.get_json()["changes"]) == 1
    with app.test_request_context():
        audit_cursor = encode_cursor("audit", 5)
    assert client.get(f"/api/v1/sync/pull?cursor={audit_cursor}", headers=a.headers).status_code == 422


def test_a_pulled_record_pushed_back_unchanged_is_valid_and_changes_nothing(app, client, auth):
    a = Phone(client, auth.headers("collaborator"))
    hh = a.create("households", household())
    reg = a.create("registrations", new_registration(hh))
    a.sync()
    versions = count(app, RecordVersion)
    a.edit("registrations", reg)  # server-managed fields included, unchanged
    result = a.sync()["results"][0]
    assert result["status"] == "applied" and result["version"] == 1
    assert count(app, RecordVersion) == versions


def test_more_than_500_changes_is_413(client, auth):
    headers = auth.headers("collaborator")
    changes = [change("households", str(uuid.uuid4()), household(), None) for _ in range(501)]
    resp = client.post(
        "/api/v1/sync/push",
        json={"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": changes},
        headers=headers,
    )
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"


def test_more_than_5_mib_is_413(client, auth):
    headers = auth.headers("collaborator")
    body = json.dumps(
        {"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": [], "pad": "x" * (5 << 20)}
    )
    resp = client.post("/api/v1/sync/push", data=body, content_type="application/json", headers=headers)
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"


def test_a_push_envelope_with_unknown_fields_is_422(client, auth):
    resp = client.post(
        "/api/v1/sync/push",
        json={"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": [], "extra": 1},
        headers=auth.headers("collaborator"),
    )
    assert resp.status_code == 422 and "extra" in resp.get_json()["error"]["details"]


def test_every_applied_change_is_audited_with_device_and_batch(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"), device_id="phone-7f3a")
    phone.create("households", household())
    batch = phone.push()
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.entity != "users")).scalar_one()
        assert entry.device_id == "phone-7f3a" and entry.batch_id == batch["batch_id"]
        assert entry.after["head_name"] == "Hồ Văn Thương" and entry.actor.startswith("collaborator")


def test_push_updates_the_users_last_sync(app, client, auth):
    name = auth.user("collaborator")
    phone = Phone(client, auth.headers(username=name))
    phone.push()
    users = client.get("/api/v1/users", headers=auth.headers("admin")).get_json()
    assert next(u for u in users if u["username"] == name)["last_sync_at"] is not None


def submit_registration(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", household())
    reg = phone.create("registrations", new_registration(hh))
    phone.sync()
    return phone, reg


def test_an_official_decides_with_the_current_version(client, auth):
    phone, reg = submit_registration(client, auth)
    official = auth.headers("commune_official")
    url = f"/api/v1/registrations/{reg}/decision"
    stale = client.post(url, json={"decision": "approve", "note": "", "version": 2}, headers=official)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "version_conflict"
    resp = client.post(url, json={"decision": "approve", "note": "Đồng ý", "version": 1}, headers=official)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["status"] == "approved" and resp.get_json()["version"] == 2
    again = client.post(url, json={"decision": "reject", "note": "", "version": 2}, headers=official)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"
    phone.pull()
    assert phone.get("registrations", reg)["data"]["status"] == "approved"
    # the approved form is locked against the phone's edits
    phone.edit("registrations", reg, members=9)
    assert phone.sync()["results"][0]["errors"]["code"] == "locked"


def test_only_the_communes_own_official_decides(client, auth):
    _, reg = submit_registration(client, auth)
    body = {"decision": "approve", "note": None, "version": 1}
    url = f"/api/v1/registrations/{reg}/decision"
    assert client.post(url, json=body, headers=auth.headers("collaborator")).status_code == 403
    assert client.post(url, json=body, headers=auth.headers("district_officer")).status_code == 403
    other = client.post(url, json=body, headers=auth.headers("commune_official", unit="20923"))
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"


def test_a_phone_that_resubmitted_a_returned_form_edits_it_again_before_pulling(client, auth):
    # The phone took version 3 from its push result but still holds status `returned` from
    # its last pull: an echo of an older server value, not an attempt to decide.
    phone, reg = submit_registration(client, auth)
    url = f"/api/v1/registrations/{reg}/decision"
    body = {"decision": "return", "note": "Thiếu chữ ký", "version": 1}
    assert client.post(url, json=body, headers=auth.headers("commune_official")).status_code == 200
    phone.pull()
    phone.edit("registrations", reg, notes="Đã ký lại")
    assert [r["version"] for r in phone.push()["results"]] == [3]
    held = phone.get("registrations", reg)["data"]
    assert held["status"] == "returned"
    phone.outbox.append(change("registrations", reg, {**held, "notes": "Đã ký lại", "members": 6}, 3))
    result = phone.push()
    assert statuses(result) == ["applied"] and result["results"][0]["version"] == 4
    phone.pull()
    assert phone.get("registrations", reg)["data"]["status"] == "submitted"


def test_unknown_query_parameters_are_refused_not_ignored(client, auth):
    headers = auth.headers("commune_official")
    for url in ("/api/v1/sync/pull?limt=5", "/api/v1/conflicts?stauts=open", "/api/v1/units?levl=commune"):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 422, url
        assert resp.get_json()["error"]["code"] == "validation_error"
