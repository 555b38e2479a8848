"""OpenRosa over HTTP, told as the field tells it: a collaborator's ODK Collect sends forms.

A collaborator of Xã Trà Sơn (20900, Bắc Trà My) fills the exit-registration form on Collect;
what the server made of it is read back the way a phone reads it, by pulling.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import OdkAttachment, OdkInstance, OdkSubmission, RecordVersion, RejectedChange
from server.odk.forms import get_form
from tests.odk.collect import (
    JPEG,
    Collect,
    assert_openrosa_headers,
    basic_auth,
    listed_forms,
    message_of,
)
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, HOUSEHOLD_ID, INSTANCE_UUID, fill_instance
from tests.phones import Phone

COMMUNE = "20900"
EDIT_UUID = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"
SECOND_EDIT_UUID = "6e7f8091-ab1c-4d2e-9f3a-5b6c7d8e9f0a"
PHOTO = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]


def registration_xml(
    instance_uuid: str = INSTANCE_UUID, deprecated_uuid: str | None = None, **answers
) -> bytes:
    return fill_instance(
        "exit_registration", {**EXIT_REGISTRATION_ANSWERS, **answers}, instance_uuid, deprecated_uuid
    )


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def collaborator(auth) -> str:
    return auth.user("collaborator", COMMUNE)


@pytest.fixture
def collect(client, collaborator) -> Collect:
    return Collect(client, collaborator)


@pytest.fixture
def phone(client, auth, collaborator) -> Phone:
    """The same collaborator's sync app, to see what the server made of the forms."""
    return Phone(client, auth.headers(username=collaborator))


def pulled(phone: Phone, entity: str, record_id: str) -> dict:
    phone.pull()
    return phone.get(entity, record_id)


def decide(client, auth, decision: str) -> None:
    official = auth.headers("commune_official", COMMUNE)
    current = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=official).get_json()
    resp = client.post(
        f"/api/v1/registrations/{INSTANCE_UUID}/decision",
        json={"decision": decision, "note": "UBND xã Trà Sơn", "version": current["version"]},
        headers=official,
    )
    assert resp.status_code == 200, resp.get_json()


# -- forms -------------------------------------------------------------------------------------
def test_the_form_list_offers_the_shipped_forms_and_their_downloads_match_the_hashes(collect):
    resp = collect.form_list()
    assert resp.status_code == 200
    assert_openrosa_headers(resp)
    forms = listed_forms(resp)
    assert set(forms) == {"exit_registration", "follow_up_visit", "payout_receipt"}
    listed = forms["exit_registration"]
    ns = "{http://openrosa.org/xforms/xformsList}"
    url = listed.findtext(f"{ns}downloadUrl")
    assert url == "http://localhost/v1/projects/1/forms/exit_registration.xml"
    download = collect.client.get(url.removeprefix("http://localhost"), headers=collect.headers)
    assert download.status_code == 200
    assert download.data == get_form("exit_registration").xform
    assert (
        listed.findtext(f"{ns}hash") == "md5:" + hashlib.md5(download.data, usedforsecurity=False).hexdigest()
    )
    assert listed.findtext(f"{ns}version") == get_form("exit_registration").version


def test_the_form_list_filters_by_form_id(collect):
    assert set(listed_forms(collect.form_list("payout_receipt"))) == {"payout_receipt"}


def test_a_request_without_the_openrosa_header_is_400_in_openrosa_shape(client, collaborator):
    resp = client.get("/v1/projects/1/formList", headers=basic_auth(collaborator))
    assert resp.status_code == 400
    assert_openrosa_headers(resp)
    text, nature = message_of(resp)
    assert "X-OpenRosa-Version" in text and nature == "error"


def test_no_credentials_is_401_with_a_basic_challenge_so_collect_asks_for_a_password(client):
    resp = client.head("/v1/projects/1/submission", headers={"X-OpenRosa-Version": "1.0"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert_openrosa_headers(resp)


def test_a_wrong_password_is_401_and_repeated_guesses_are_throttled(client, collaborator):
    headers = {"X-OpenRosa-Version": "1.0", **basic_auth(collaborator, "wrong password")}
    statuses = [client.get("/v1/projects/1/formList", headers=headers).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # The JSON login shares the count: the same user is throttled there too.
    resp = client.post("/api/v1/auth/token", json={"username": collaborator, "password": "x"})
    assert resp.status_code == 429


def test_head_submission_is_204_once_logged_in(collect):
    resp = collect.client.head("/v1/projects/1/submission", headers=collect.headers)
    assert resp.status_code == 204
    assert_openrosa_headers(resp)


def test_an_unknown_form_is_404(collect):
    resp = collect.client.get("/v1/projects/1/forms/no_such_form.xml", headers=collect.headers)
    assert resp.status_code == 404
    assert message_of(resp)[1] == "error"
    resp = collect.submit(registration_xml().replace(b'id="exit_registration"', b'id="no_such_form"'))
    assert resp.status_code == 404
    assert "no_such_form" in message_of(resp)[0]


# -- submissions -------------------------------------------------------------------------------
def test_a_submission_creates_the_household_and_a_submitted_registration(app, collect, phone):
    resp = collect.submit(registration_xml(), {PHOTO: JPEG})
    assert resp.status_code == 201
    assert_openrosa_headers(resp)
    assert message_of(resp) == ("Submission received.", "")
    registration = pulled(phone, "registrations", INSTANCE_UUID)
    assert registration["version"] == 1
    assert registration["data"]["status"] == "submitted"
    assert registration["data"]["needs"] == ["livestock", "preferential_loan"]
    household = phone.get("households", HOUSEHOLD_ID)
    assert household["data"]["head_name"] == "Hồ Văn Đước" and household["data"]["members"] == 5
    assert count(app, OdkAttachment) == 1


def test_a_resend_after_a_lost_response_is_201_and_nothing_doubles(app, collect, phone):
    assert collect.submit(registration_xml(), {PHOTO: JPEG}).status_code == 201
    versions = count(app, RecordVersion)
    again = collect.submit(registration_xml(), {PHOTO: JPEG})
    assert again.status_code == 201
    assert "already received" in message_of(again)[0]
    assert count(app, RecordVersion) == versions
    assert (count(app, OdkSubmission), count(app, OdkInstance), count(app, OdkAttachment)) == (1, 1, 1)
    assert pulled(phone, "registrations", INSTANCE_UUID)["version"] == 1


def test_media_sent_over_two_posts_completes_the_same_submission(client, auth, collect, phone):
    official = auth.headers("commune_official", COMMUNE)
    attachments_url = f"/v1/projects/1/forms/exit_registration/submissions/uuid%3A{INSTANCE_UUID}/attachments"
    assert collect.submit(registration_xml()).status_code == 201
    assert client.get(attachments_url, headers=official).get_json() == [{"name": PHOTO, "exists": False}]
    assert collect.submit(registration_xml(), {PHOTO: JPEG}).status_code == 201
    assert client.get(attachments_url, headers=official).get_json() == [{"name": PHOTO, "exists": True}]
    photo = client.get(f"{attachments_url}/{PHOTO}", headers=official)
    assert photo.status_code == 200 and photo.data == JPEG and photo.mimetype == "image/jpeg"
    assert pulled(phone, "registrations", INSTANCE_UUID)["version"] == 1


def test_the_same_instance_id_with_other_xml_is_409_and_changes_nothing(app, collect, phone):
    assert collect.submit(registration_xml()).status_code == 201
    clash = collect.submit(registration_xml(head_name="Người khác"))
    assert clash.status_code == 409
    assert INSTANCE_UUID in message_of(clash)[0]
    assert pulled(phone, "households", HOUSEHOLD_ID)["data"]["head_name"] == "Hồ Văn Đước"
    assert count(app, OdkInstance) == 1


def test_an_edit_naming_the_current_version_updates_the_same_registration(client, auth, collect, phone):
    assert collect.submit(registration_xml(), {PHOTO: JPEG}).status_code == 201
    edit = collect.submit(registration_xml(EDIT_UUID, INSTANCE_UUID, members="6", needs="livestock housing"))
    assert edit.status_code == 201
    registration = pulled(phone, "registrations", INSTANCE_UUID)
    assert registration["version"] == 2
    assert (registration["data"]["members"], registration["data"]["needs"]) == (6, ["livestock", "housing"])
    assert ("registrations", EDIT_UUID) not in phone.records
    # The submission keeps its first instanceId; the edit is its current version, photo kept.
    official = auth.headers("commune_official", COMMUNE)
    base = f"/v1/projects/1/forms/exit_registration/submissions/uuid%3A{INSTANCE_UUID}"
    submission = client.get(base, headers=official).get_json()
    assert submission["instanceId"] == f"uuid:{INSTANCE_UUID}"
    assert submission["currentInstanceId"] == f"uuid:{EDIT_UUID}"
    assert client.get(f"{base}/attachments", headers=official).get_json() == [{"name": PHOTO, "exists": True}]


def test_an_edit_of_a_version_that_is_no_longer_current_is_409(collect, phone):
    collect.submit(registration_xml())
    assert collect.submit(registration_xml(EDIT_UUID, INSTANCE_UUID, members="6")).status_code == 201
    stale = collect.submit(registration_xml(SECOND_EDIT_UUID, INSTANCE_UUID, members="7"))
    assert stale.status_code == 409
    assert f"uuid:{EDIT_UUID}" in message_of(stale)[0]
    assert pulled(phone, "registrations", INSTANCE_UUID)["data"]["members"] == 6


def test_an_edit_after_the_commune_returned_the_form_goes_back_to_submitted(client, auth, collect, phone):
    collect.submit(registration_xml())
    decide(client, auth, "return")
    edit = collect.submit(registration_xml(EDIT_UUID, INSTANCE_UUID, notes="Đã bổ sung ảnh giấy đăng ký."))
    assert edit.status_code == 201
    registration = pulled(phone, "registrations", INSTANCE_UUID)
    assert registration["version"] == 3
    assert registration["data"]["status"] == "submitted"
    assert registration["data"]["notes"] == "Đã bổ sung ảnh giấy đăng ký."


def test_an_edit_of_an_approved_registration_is_refused_kept_and_applies_nothing(
    app, client, auth, collect, phone
):
    collect.submit(registration_xml())
    decide(client, auth, "approve")
    refused = collect.submit(registration_xml(EDIT_UUID, INSTANCE_UUID, members="7", head_name="Hồ Văn Mới"))
    assert refused.status_code == 409
    text, nature = message_of(refused)
    assert nature == "error" and "locked" in text.lower()
    # Nothing of the form applied: neither the registration nor the household changed.
    assert pulled(phone, "registrations", INSTANCE_UUID)["data"]["members"] == 5
    assert phone.get("households", HOUSEHOLD_ID)["data"]["head_name"] == "Hồ Văn Đước"
    assert phone.get("households", HOUSEHOLD_ID)["version"] == 1
    # ... but everything typed is kept: the instance, and both changes as rejected changes.
    assert count(app, OdkInstance) == 2
    with app.app_context():
        kept = db.session.execute(select(RejectedChange.commune_code, RejectedChange.district_code)).all()
    assert kept == [("20900", "515")] * 2  # the sender's commune: its officials see them
    supervisor = auth.headers("supervisor")
    listed = client.get("/v1/projects/1/forms/exit_registration/submissions", headers=supervisor).get_json()
    assert [(s["instanceId"], s["syncStatus"], s["reviewState"]) for s in listed] == [
        (f"uuid:{INSTANCE_UUID}", "rejected", "approved")
    ]


def test_a_household_outside_the_collaborators_commune_is_refused_and_kept(app, collect, phone):
    refused = collect.submit(registration_xml(commune_code="20920"))
    assert refused.status_code == 404
    assert message_of(refused)[1] == "error"
    phone.pull()
    assert phone.records == {}
    assert count(app, OdkInstance) == 1


def test_another_communes_refused_instance_is_404_to_everyone_else(
    app, client, auth, collect, phone, collaborator
):
    # A collaborator of the neighbouring commune sent it first, outside their units: refused,
    # and kept in their commune. The same instance from Trà Sơn names a submission of another
    # unit: 404, as a record outside one's units, and nothing changes (a refused instance is
    # tried again only for whoever may see it: tests/odk/test_openrosa_visits.py).
    other = Collect(client, auth.user("collaborator", "20920"))
    assert other.submit(registration_xml()).status_code == 404
    assert count(app, RejectedChange) == 2
    assert Collect(client, collaborator).submit(registration_xml()).status_code == 404
    assert count(app, RejectedChange) == 2
    assert count(app, OdkInstance) == 1
    phone.pull()
    assert phone.records == {}


def test_invalid_answers_are_422_with_the_fields_named_and_the_instance_kept(app, collect):
    resp = collect.submit(registration_xml(members="năm", signed_on="hôm qua"))
    assert resp.status_code == 422
    text, _ = message_of(resp)
    assert "members" in text and "signed_on" in text
    assert count(app, OdkInstance) == 1


# -- hostile or broken requests ------------------------------------------------------------------
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<data id="exit_registration"><head_name>&secret;</head_name>
<meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<data id="exit_registration"><head_name>&lol4;</head_name>
<meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"""


@pytest.mark.parametrize("xml", [XXE, BILLION_LAUGHS], ids=["external-entity", "billion-laughs"])
def test_xml_with_entities_is_400_and_nothing_is_stored(app, collect, xml):
    resp = collect.submit(xml)
    assert resp.status_code == 400
    text, nature = message_of(resp)
    assert "DTD" in text and nature == "error"
    assert b"root:" not in resp.data
    assert count(app, OdkInstance) == 0


def test_an_attachment_over_the_limit_is_413(app, collect):
    app.config["ATTACHMENT_MAX_BYTES"], limit = 1000, app.config["ATTACHMENT_MAX_BYTES"]
    try:
        resp = collect.submit(registration_xml(), {PHOTO: JPEG})
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = limit
    assert resp.status_code == 413
    assert PHOTO in message_of(resp)[0]
    assert count(app, OdkInstance) == 0


def test_a_photo_that_is_not_an_image_is_415_whatever_its_declared_type(app, collect):
    resp = collect.submit(registration_xml(), {PHOTO: b"<html><script>alert(1)</script></html>"})
    assert resp.status_code == 415
    assert "image" in message_of(resp)[0]
    assert count(app, OdkAttachment) == 0


def test_a_submission_that_is_not_multipart_is_415(collect):
    resp = collect.client.post(
        "/v1/projects/1/submission",
        headers=collect.headers,
        data=registration_xml(),
        content_type="application/json",
    )
    assert resp.status_code == 415
    assert_openrosa_headers(resp)


def test_a_file_name_that_is_a_path_is_refused(app, collect):
    resp = collect.submit(registration_xml(signed_form_photo="../../wsgi.py"), {"../../wsgi.py": JPEG})
    assert resp.status_code == 422
    assert count(app, OdkAttachment) == 0
