"""An ODK submission cannot reach another commune's record by naming its id.

Xã Trà Đốc (20920) registered a household and the commune approved its form. A collaborator
of the neighbouring Xã Trà Sơn (20900) sends an exit-registration form whose instanceID is
Trà Đốc's registration id, with a photo, over OpenRosa and over Central's API. Refused, as a
push of that id would be; and nothing of it shows on Trà Đốc's registration, nor does
anything of Trà Đốc's registration show to the sender.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import OdkAttachment, OdkSubmission, RejectedChange
from tests.factories import household
from tests.odk.collect import JPEG, Collect
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, fill_instance
from tests.phones import Phone
from tests.web.pages import PageSession, new_registration_data

FORM = "/v1/projects/1/forms/exit_registration"
PHOTO = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
OTHER_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x22" * 2000  # the intruder's picture
EDIT_UUID = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"


def registration_xml(instance_uuid: str, deprecated_uuid: str | None = None, **answers) -> bytes:
    return fill_instance(
        "exit_registration", {**EXIT_REGISTRATION_ANSWERS, **answers}, instance_uuid, deprecated_uuid
    )


def session(client, username: str) -> dict:
    from tests.conftest import PASSWORD

    resp = client.post("/v1/sessions", json={"email": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def approve(client, auth, registration_id: str) -> None:
    official = auth.headers("commune_official", "20920")
    current = client.get(f"/api/v1/registrations/{registration_id}", headers=official).get_json()
    resp = client.post(
        f"/api/v1/registrations/{registration_id}/decision",
        json={"decision": "approve", "note": "UBND xã Trà Đốc", "version": current["version"]},
        headers=official,
    )
    assert resp.status_code == 200, resp.get_json()


TRA_DOC_PHONE = "0905 111 222"  # a Trà Đốc household's phone number, seen only in Trà Đốc


@pytest.fixture
def tra_doc_household(client, auth) -> tuple[str, str]:
    """Trà Đốc's household and its approved registration, pushed by its collaborator's phone."""
    device = Phone(client, auth.headers("collaborator", "20920"))
    household_id = device.create("households", household("20920", phone=TRA_DOC_PHONE))
    registration_id = device.create("registrations", new_registration_data(household_id))
    device.sync()
    approve(client, auth, registration_id)
    return household_id, registration_id


@pytest.fixture
def tra_doc_registration(tra_doc_household) -> str:
    return tra_doc_household[1]


@pytest.fixture
def intruder(auth) -> str:
    """A collaborator of Trà Sơn (20900)."""
    return auth.user("collaborator", "20900")


def assert_nothing_reached(app, client, auth, intruder: str, registration_id: str) -> None:
    """Trà Đốc's page shows no photo of the intruder; the intruder sees nothing of Trà Đốc's."""
    official = PageSession(app, auth.user("commune_official", "20920"))
    page = official.get(f"/web/registrations/{registration_id}")
    assert page.status_code == 200
    assert 'class="photo"' not in page.text
    assert official.get(f"/web/registrations/{registration_id}/photo").status_code == 404
    with app.app_context():
        bound = (
            db.session.execute(select(OdkSubmission).where(OdkSubmission.record_id == registration_id))
            .scalars()
            .all()
        )
    assert bound == []  # no submission is about Trà Đốc's registration
    headers = session(client, intruder)
    own = client.get(f"{FORM}/submissions/uuid%3A{registration_id}", headers=headers)
    if own.status_code == 200:  # the sender's own refused submission, kept in their commune
        body = own.get_json()
        assert (body["reviewState"], body["updatedAt"], body["syncStatus"]) == (None, None, "rejected")
    else:
        assert own.status_code == 404
    with app.app_context():
        kept = db.session.execute(select(RejectedChange)).scalars().all()
    assert TRA_DOC_PHONE not in repr([change.data for change in kept])  # nothing of Trà Đốc's copied
    rows = client.get(f"{FORM}.svc/Submissions", headers=headers).get_json()["value"]
    assert all(row["__system"]["reviewState"] is None for row in rows)
    assert all(row["__system"]["updatedAt"] is None for row in rows)
    listed = client.get(f"{FORM}/submissions", headers=headers).get_json()
    assert all((s["reviewState"], s["updatedAt"]) == (None, None) for s in listed)


def test_collect_naming_another_communes_registration_is_404_and_reaches_nothing(
    app, client, auth, tra_doc_household, intruder
):
    household_id, tra_doc_registration = tra_doc_household
    collect = Collect(client, intruder)
    xml = registration_xml(tra_doc_registration, household_id=household_id, new_household_id=household_id)
    resp = collect.submit(xml, {PHOTO: OTHER_PHOTO})
    assert resp.status_code == 404
    assert_nothing_reached(app, client, auth, intruder, tra_doc_registration)
    # Its commune official still finds the refusal among the commune's submissions.
    official = session(client, auth.user("commune_official", "20900"))
    listed = client.get(f"{FORM}/submissions", headers=official).get_json()
    assert [(s["instanceId"], s["syncStatus"]) for s in listed] == [
        (f"uuid:{tra_doc_registration}", "rejected")
    ]


def test_central_post_naming_another_communes_registration_is_404_and_reaches_nothing(
    app, client, auth, tra_doc_registration, intruder
):
    headers = session(client, intruder)
    resp = client.post(
        f"{FORM}/submissions",
        data=registration_xml(tra_doc_registration),
        headers={**headers, "Content-Type": "application/xml"},
    )
    assert resp.status_code == 404 and resp.get_json()["code"] == 404.1
    upload = client.post(
        f"{FORM}/submissions/uuid%3A{tra_doc_registration}/attachments/{PHOTO}",
        data=OTHER_PHOTO,
        headers={**headers, "Content-Type": "image/jpeg"},
    )
    assert upload.status_code in (200, 404)  # onto the sender's own refused submission at most
    assert_nothing_reached(app, client, auth, intruder, tra_doc_registration)


@pytest.fixture
def tra_doc_collect_form(client, auth) -> tuple[str, bytes]:
    """Trà Đốc's form sent from Collect, its photo not yet uploaded (Collect may split media)."""
    instance_uuid = "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f"
    household = "4c1d3f5e-6b72-4e3c-8d2f-8a9b0c1d2e3f"
    xml = registration_xml(
        instance_uuid, commune_code="20920", household_id=household, new_household_id=household
    )
    own = Collect(client, auth.user("collaborator", "20920"))
    assert own.submit(xml).status_code == 201
    approve(client, auth, instance_uuid)
    return instance_uuid, xml


def test_resending_another_communes_instance_is_404_and_attaches_nothing(
    app, client, auth, tra_doc_collect_form, intruder
):
    instance_uuid, xml = tra_doc_collect_form
    collect = Collect(client, intruder)
    same = collect.submit(xml, {PHOTO: OTHER_PHOTO})
    assert same.status_code == 404
    other = collect.submit(registration_xml(instance_uuid, members="9"), {PHOTO: OTHER_PHOTO})
    assert other.status_code == 404  # the same answer as for any record outside the sender's units
    with app.app_context():
        assert db.session.execute(select(OdkAttachment)).scalars().all() == []
    official = PageSession(app, auth.user("commune_official", "20920"))
    assert official.get(f"/web/registrations/{instance_uuid}/photo").status_code == 404
    headers = session(client, intruder)
    assert client.get(f"{FORM}/submissions/uuid%3A{instance_uuid}", headers=headers).status_code == 404
    resent = client.post(
        f"{FORM}/submissions", data=xml, headers={**headers, "Content-Type": "application/xml"}
    )
    assert resent.status_code == 404 and "approved" not in resent.text


def test_an_edit_of_another_communes_instance_is_404(app, client, auth, tra_doc_collect_form, intruder):
    instance_uuid, _ = tra_doc_collect_form
    edit = registration_xml(EDIT_UUID, instance_uuid, members="9")
    assert Collect(client, intruder).submit(edit, {PHOTO: OTHER_PHOTO}).status_code == 404
    with app.app_context():
        assert db.session.execute(select(OdkAttachment)).scalars().all() == []


def test_a_refused_edit_puts_no_photo_on_the_registration(app, client, auth, intruder):
    """The photo shown is the one of the version the engine took, never of a refused edit."""
    collect = Collect(client, intruder)
    first = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
    assert collect.submit(registration_xml(first), {PHOTO: JPEG}).status_code == 201
    official = auth.headers("commune_official", "20900")
    resp = client.post(
        f"/api/v1/registrations/{first}/decision",
        json={"decision": "approve", "note": None, "version": 1},
        headers=official,
    )
    assert resp.status_code == 200
    edit = registration_xml(EDIT_UUID, first, members="9", signed_form_photo="edited.jpg")
    assert collect.submit(edit, {"edited.jpg": OTHER_PHOTO}).status_code == 409  # locked
    page = PageSession(app, auth.user("commune_official", "20900"))
    assert page.get(f"/web/registrations/{first}/photo").data == JPEG
