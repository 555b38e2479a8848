"""Entity lists as ODK Collect downloads them: per phone, per commune, re-downloaded on change.

Each collaborator's manifest lists ``households.csv`` (and the other lists a form reads)
with the md5 of *their* copy; the copies hold only their units' records, only those a form
can act on, and answer 304 to a phone that already has them.
"""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from tests.factories import household, payout, put, registration, support_item
from tests.odk.collect import Collect
from tests.odk.samples import (
    EXIT_REGISTRATION_ANSWERS,
    FOLLOW_UP_ANSWERS,
    HOUSEHOLD_ID,
    INSTANCE_UUID,
    PAYOUT_RECEIPT_ANSWERS,
    fill_instance,
    with_entity,
)
from tests.phones import Phone

TRA_DOC, TAN_THANH = "20920", "20335"  # Bắc Trà My (515) and Tam Kỳ


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.fixture
def world(app, client, auth):
    with app.app_context():
        lan = put(
            "households", household(TRA_DOC, head_name="Hồ Thị Xuân Lan", code="HN-9", village="Thôn 4")
        )
        other = put("households", household(TAN_THANH, head_name="Trần Văn Bình", code="TT-1"))
    a = Collect(client, auth.user("collaborator", TRA_DOC))
    b = Collect(client, auth.user("collaborator", TAN_THANH))
    return {"lan": lan, "other": other, "a": a, "b": b}


def test_two_communes_get_different_lists_and_neither_sees_the_others_households(world):
    a, b = world["a"], world["b"]
    manifest_a, manifest_b = a.manifest("exit_registration"), b.manifest("exit_registration")
    assert set(manifest_a) == {"households.csv", "registrations.csv", "communes.csv"}
    assert manifest_a["households.csv"][2] == "entityList" and manifest_a["communes.csv"][2] is None

    csv_a = a.download("exit_registration", "households.csv")
    csv_b = b.download("exit_registration", "households.csv")
    assert csv_a.status_code == csv_b.status_code == 200
    assert csv_a.headers["Content-Type"].startswith("text/csv")
    # The manifest's hash is the md5 of the very bytes that phone downloads.
    assert (
        manifest_a["households.csv"][0] == "md5:" + hashlib.md5(csv_a.data, usedforsecurity=False).hexdigest()
    )
    assert (
        manifest_b["households.csv"][0] == "md5:" + hashlib.md5(csv_b.data, usedforsecurity=False).hexdigest()
    )
    assert manifest_a["households.csv"][0] != manifest_b["households.csv"][0]

    rows_a = read_csv(csv_a.data)
    assert [r["name"] for r in rows_a] == [world["lan"]]
    assert world["other"] not in csv_a.get_data(as_text=True)
    assert world["lan"] not in csv_b.get_data(as_text=True)
    (lan,) = rows_a
    assert list(lan)[:3] == ["name", "label", "__version"]
    assert lan["label"] == "Hồ Thị Xuân Lan · HN-9 · Thôn 4"
    assert (lan["__version"], lan["commune_code"], lan["village"], lan["ethnic_minority"]) == (
        "1",
        TRA_DOC,
        "Thôn 4",
        "yes",
    )
    communes = read_csv(a.download("exit_registration", "communes.csv").data)
    assert [(c["name"], c["label"]) for c in communes] == [(TRA_DOC, "Xã Trà Đốc")]


def test_a_change_in_one_commune_changes_only_that_communes_hash(client, auth, world):
    a, b = world["a"], world["b"]
    before_a = a.manifest("follow_up_visit")["households.csv"][0]
    before_b = b.manifest("follow_up_visit")["households.csv"][0]
    official = Phone(client, auth.headers("commune_official", TRA_DOC))
    official.pull()
    official.edit("households", world["lan"], members=6)
    assert official.push()["results"][0]["status"] == "applied"
    after_a = a.manifest("follow_up_visit")["households.csv"][0]
    assert after_a != before_a
    assert b.manifest("follow_up_visit")["households.csv"][0] == before_b
    rows = read_csv(a.download("follow_up_visit", "households.csv").data)
    assert (rows[0]["__version"], rows[0]["members"]) == ("2", "6")


def test_an_unchanged_list_is_304_and_a_changed_one_downloads_again(client, auth, world):
    a = world["a"]
    first = a.download("exit_registration", "households.csv")
    etag = first.headers["ETag"]
    assert etag == 'W/"' + hashlib.md5(first.data, usedforsecurity=False).hexdigest() + '"'
    again = a.download("exit_registration", "households.csv", etag=etag)
    assert again.status_code == 304 and again.data == b""
    with client.application.app_context():
        put("households", household(TRA_DOC, head_name="Alăng Thị Mai"))
    changed = a.download("exit_registration", "households.csv", etag=etag)
    assert changed.status_code == 200 and "Alăng Thị Mai" in changed.get_data(as_text=True)


def test_lists_hold_only_what_a_form_can_act_on(app, client, auth, world):
    with app.app_context():
        hh = world["lan"]
        note = "Thiếu ảnh giấy cam kết"
        reg = put(
            "registrations", registration(hh, status="returned", decision_note=note), commune_code=TRA_DOC
        )
        put("registrations", registration(hh, status="approved", year=2019), commune_code=TRA_DOC)
        planned = put("support_items", support_item(hh, reg), commune_code=TRA_DOC)
        put("support_items", support_item(hh, reg, status="delivered", delivered_on="2020-06-01"),
            commune_code=TRA_DOC)  # fmt: skip
        disbursed = put("payouts", payout(hh, reg, status="disbursed", disbursed_on="2020-09-28"),
                        commune_code=TRA_DOC)  # fmt: skip
        put("payouts", payout(hh, reg), commune_code=TRA_DOC)  # pending: nothing to confirm yet
        confirmed = payout(hh, reg, status="confirmed", disbursed_on="2020-09-01", confirmed_on="2020-09-02")
        put("payouts", confirmed, commune_code=TRA_DOC)
    a = world["a"]
    registrations = read_csv(a.download("exit_registration", "registrations.csv").data)
    assert [(r["name"], r["status"], r["decision_note"]) for r in registrations] == [(reg, "returned", note)]
    assert registrations[0]["label"] == "Hồ Thị Xuân Lan · 2020 · trả lại để sửa"
    items = read_csv(a.download("follow_up_visit", "support_items.csv").data)
    assert [(i["name"], i["household_id"], i["status"]) for i in items] == [(planned, hh, "planned")]
    assert items[0]["label"] == "Con giống · 2 con bò giống · hạn 2020-07-01"
    payouts = read_csv(a.download("payout_receipt", "payouts.csv").data)
    assert [(p["name"], p["amount_vnd"], p["disbursed_on"]) for p in payouts] == [
        (disbursed, "5000000", "2020-09-28")
    ]
    assert payouts[0]["label"] == "Thưởng hộ thoát nghèo · 5.000.000 đ · chi ngày 2020-09-28"
    # A list a form does not read is not its attachment.
    assert a.download("follow_up_visit", "payouts.csv").status_code == 404


def test_a_household_registered_from_a_form_is_in_the_next_download_of_that_phone(client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    etag = collect.download("exit_registration", "households.csv").headers["ETag"]
    answers = {**EXIT_REGISTRATION_ANSWERS, "household_mode": "new"}
    assert collect.submit(fill_instance("exit_registration", answers)).status_code == 201
    resp = collect.download("exit_registration", "households.csv", etag=etag)
    assert resp.status_code == 200
    (row,) = read_csv(resp.data)
    assert (row["name"], row["head_name"], row["__version"]) == (HOUSEHOLD_ID, "Hồ Văn Đước", "1")
    # The registration it made is open, so the registrations list shows it too.
    (reg,) = read_csv(collect.download("exit_registration", "registrations.csv").data)
    assert (reg["name"], reg["status"]) == (INSTANCE_UUID, "submitted")


def test_device_key_phones_get_their_users_lists(app, client, auth, world):
    admin = auth.headers("admin")
    username = auth.user("collaborator", TRA_DOC)
    created = client.post(
        "/api/v1/device-tokens", json={"username": username, "label": "Máy 1"}, headers=admin
    )
    phone = Collect(client, key=created.get_json()["token"])
    manifest = phone.manifest("exit_registration")
    assert manifest["households.csv"][1].startswith(f"/v1/key/{created.get_json()['token']}/projects/1/")
    data = phone.download("exit_registration", "households.csv")
    assert data.status_code == 200 and world["lan"] in data.get_data(as_text=True)
    assert world["other"] not in data.get_data(as_text=True)


def test_a_visit_and_a_receipt_chosen_from_the_lists_update_the_records_and_leave_the_lists(
    app, client, auth
):
    """As Collect fills them: ids and ``baseVersion`` come from the rows the phone downloaded."""
    with app.app_context():
        hh = put("households", household(TRA_DOC, head_name="Hồ Thị Xuân Lan"))
        reg = put("registrations", registration(hh, status="approved"), commune_code=TRA_DOC)
        put("support_items", support_item(hh, reg), commune_code=TRA_DOC)
        put("payouts", payout(hh, reg, status="disbursed", disbursed_on="2020-09-28"), commune_code=TRA_DOC)
    collect = Collect(client, auth.user("collaborator", TRA_DOC))
    (item,) = read_csv(collect.download("follow_up_visit", "support_items.csv").data)
    (pay,) = read_csv(collect.download("payout_receipt", "payouts.csv").data)
    assert item["household_id"] == pay["household_id"] == hh

    visit = fill_instance(
        "follow_up_visit",
        {
            **FOLLOW_UP_ANSWERS,
            "household_id": hh,
            "support_item_id": item["name"],
            "delivered_status": "delivered",
        },
        "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    )
    visit = with_entity(visit, id=item["name"], update="1", baseVersion=item["__version"])
    assert collect.submit(visit).status_code == 201
    receipt = fill_instance(
        "payout_receipt",
        {**PAYOUT_RECEIPT_ANSWERS, "household_id": hh, "payout_id": pay["name"],
         "payout_amount": pay["amount_vnd"], "received_in_full": "yes", "confirmed_status": "confirmed"},
        "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c",
    )  # fmt: skip
    receipt = with_entity(receipt, id=pay["name"], update="1", baseVersion=pay["__version"])
    assert collect.submit(receipt).status_code == 201

    supervisor = auth.headers("supervisor")
    delivered = client.get(f"/api/v1/support_items/{item['name']}", headers=supervisor).get_json()
    confirmed = client.get(f"/api/v1/payouts/{pay['name']}", headers=supervisor).get_json()
    assert (delivered["data"]["status"], delivered["data"]["delivered_on"]) == ("delivered", "2020-09-12")
    assert (confirmed["data"]["status"], confirmed["data"]["confirmed_on"]) == ("confirmed", "2020-09-30")
    # Nothing left to act on: the next downloads no longer offer them.
    assert read_csv(collect.download("follow_up_visit", "support_items.csv").data) == []
    assert read_csv(collect.download("payout_receipt", "payouts.csv").data) == []
