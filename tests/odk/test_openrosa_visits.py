"""The other two forms over OpenRosa, and a form with media: a visit, a receipt, a manifest."""

from __future__ import annotations

import dataclasses

import pytest

from server.odk import forms as odk_forms
from server.odk.forms import MediaFile, get_form, md5_hash
from tests.odk.collect import JPEG, Collect, listed_forms, message_of
from tests.odk.samples import (
    EXIT_REGISTRATION_ANSWERS,
    FOLLOW_UP_ANSWERS,
    INSTANCE_UUID,
    PAYOUT_DATA,
    PAYOUT_ID,
    PAYOUT_RECEIPT_ANSWERS,
    SUPPORT_ITEM_DATA,
    SUPPORT_ITEM_ID,
    fill_instance,
)
from tests.phones import Phone

COMMUNE = "20900"
VISIT_UUID = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
RECEIPT_UUID = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"


@pytest.fixture
def collaborator(auth) -> str:
    return auth.user("collaborator", COMMUNE)


@pytest.fixture
def registered(client, auth, collaborator) -> Collect:
    """The household registered through Collect and its form approved by the commune."""
    collect = Collect(client, collaborator)
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS)
    assert collect.submit(xml).status_code == 201
    official = auth.headers("commune_official", COMMUNE)
    resp = client.post(
        f"/api/v1/registrations/{INSTANCE_UUID}/decision",
        json={"decision": "approve", "note": None, "version": 1},
        headers=official,
    )
    assert resp.status_code == 200, resp.get_json()
    return collect


def test_a_follow_up_visit_marks_the_planned_support_item_delivered(client, auth, collaborator, registered):
    district = Phone(client, auth.headers("district_officer", "515"))
    district.create("support_items", dict(SUPPORT_ITEM_DATA), SUPPORT_ITEM_ID)
    assert district.push()["results"][0]["status"] == "applied"
    visit = fill_instance("follow_up_visit", {**FOLLOW_UP_ANSWERS, "photo": "visit.jpg"}, VISIT_UUID)
    assert registered.submit(visit, {"visit.jpg": JPEG}).status_code == 201
    phone = Phone(client, auth.headers(username=collaborator))
    phone.pull()
    item = phone.get("support_items", SUPPORT_ITEM_ID)
    assert (item["version"], item["data"]["status"], item["data"]["delivered_on"]) == (
        2,
        "delivered",
        "2020-09-12",
    )


def test_a_visit_naming_an_unknown_support_item_is_404_and_kept(client, auth, registered):
    visit = fill_instance("follow_up_visit", FOLLOW_UP_ANSWERS, VISIT_UUID)
    resp = registered.submit(visit)
    assert resp.status_code == 404
    assert "support item" in message_of(resp)[0]
    supervisor = auth.headers("supervisor")
    listed = client.get("/v1/projects/1/forms/follow_up_visit/submissions", headers=supervisor).get_json()
    assert [(s["instanceId"], s["syncStatus"]) for s in listed] == [(f"uuid:{VISIT_UUID}", "rejected")]


def test_a_payout_receipt_confirms_a_disbursed_payout(client, auth, collaborator, registered):
    district = Phone(client, auth.headers("district_officer", "515"))
    district.create("payouts", dict(PAYOUT_DATA), PAYOUT_ID)
    assert district.push()["results"][0]["status"] == "applied"
    receipt = fill_instance("payout_receipt", PAYOUT_RECEIPT_ANSWERS, RECEIPT_UUID)
    assert registered.submit(receipt).status_code == 201
    phone = Phone(client, auth.headers(username=collaborator))
    phone.pull()
    payout = phone.get("payouts", PAYOUT_ID)["data"]
    assert (payout["status"], payout["confirmed_on"], payout["amount_vnd"]) == (
        "confirmed",
        "2020-09-30",
        5_000_000,
    )


def test_a_refused_receipt_sent_again_is_tried_again(client, auth, collaborator, registered):
    # The collaborator records the household's receipt before the district has recorded the
    # payment: refused. Once it is recorded disbursed, the phone sends the same form again.
    district = Phone(client, auth.headers("district_officer", "515"))
    district.create("payouts", {**PAYOUT_DATA, "status": "approved", "disbursed_on": None}, PAYOUT_ID)
    assert district.sync()["results"][0]["status"] == "applied"
    receipt = fill_instance("payout_receipt", PAYOUT_RECEIPT_ANSWERS, RECEIPT_UUID)
    refused = registered.submit(receipt)
    assert refused.status_code == 422, refused.data  # confirmed needs the date it was paid
    district.edit("payouts", PAYOUT_ID, status="disbursed", disbursed_on="2020-09-28")
    assert district.push()["results"][0]["status"] == "applied"
    assert registered.submit(receipt).status_code == 201
    phone = Phone(client, auth.headers(username=collaborator))
    phone.pull()
    assert phone.get("payouts", PAYOUT_ID)["data"]["status"] == "confirmed"


def test_a_form_with_media_has_a_manifest_and_its_files_download(client, collaborator, monkeypatch):
    content = "code,name\n20900,Xã Trà Sơn\n".encode()
    with_media = dataclasses.replace(
        get_form("follow_up_visit"), media=(MediaFile("communes.csv", content, md5_hash(content)),)
    )
    shipped = odk_forms.list_forms()
    forms = [with_media if f.form_id == "follow_up_visit" else f for f in shipped]

    def list_forms(directory=odk_forms.FORMS_DIRECTORY):
        return forms

    monkeypatch.setattr(odk_forms, "list_forms", list_forms)  # what get_form looks through
    monkeypatch.setattr("server.openrosa.views.list_forms", list_forms)  # the form list
    collect = Collect(client, collaborator)
    listed = listed_forms(collect.form_list())
    ns = "{http://openrosa.org/xforms/xformsList}"
    manifest_url = listed["follow_up_visit"].findtext(f"{ns}manifestUrl")
    assert manifest_url == "http://localhost/v1/projects/1/forms/follow_up_visit/manifest"
    manifest = client.get(manifest_url.removeprefix("http://localhost"), headers=collect.headers)
    assert manifest.status_code == 200
    assert b"<filename>communes.csv</filename>" in manifest.data
    assert md5_hash(content).encode() in manifest.data
    media = client.get(
        "/v1/projects/1/forms/follow_up_visit/attachments/communes.csv", headers=collect.headers
    )
    assert media.status_code == 200 and media.data == content
