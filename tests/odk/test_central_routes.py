"""ODK Central's REST subset over HTTP: what pyodk and OData clients call, in Central's shapes."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.odk.collect import JPEG, PNG
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance

COMMUNE = "20900"
FORM = "/v1/projects/1/forms/exit_registration"
SUBMISSION = f"{FORM}/submissions/uuid%3A{INSTANCE_UUID}"
EDIT_UUID = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"
OTHER_UUID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
PHOTO = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]


def registration_xml(
    instance_uuid: str = INSTANCE_UUID, deprecated_uuid: str | None = None, **answers
) -> bytes:
    return fill_instance(
        "exit_registration", {**EXIT_REGISTRATION_ANSWERS, **answers}, instance_uuid, deprecated_uuid
    )


def session(client, username: str) -> dict:
    resp = client.post("/v1/sessions", json={"email": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def post_xml(client, headers: dict, xml: bytes, url: str = f"{FORM}/submissions", method: str = "POST"):
    return client.open(url, method=method, data=xml, headers={**headers, "Content-Type": "application/xml"})


@pytest.fixture
def collaborator(auth) -> str:
    return auth.user("collaborator", COMMUNE)


@pytest.fixture
def as_collaborator(client, collaborator) -> dict:
    return session(client, collaborator)


@pytest.fixture
def as_official(client, auth) -> dict:
    return session(client, auth.user("commune_official", COMMUNE))


# -- sessions, users, projects, forms --------------------------------------------------------
def test_a_session_token_logs_in_on_the_odk_routes_only(client, collaborator):
    resp = client.post("/v1/sessions", json={"email": collaborator, "password": PASSWORD})
    body = resp.get_json()
    assert resp.status_code == 200 and set(body) == {"token", "createdAt", "expiresAt"}
    assert body["expiresAt"] > body["createdAt"] and body["createdAt"].endswith("Z")
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/v1/users/current", headers=headers).get_json()
    assert (me["email"], me["displayName"], me["type"]) == (collaborator, collaborator, "user")
    assert isinstance(me["id"], int)
    # A day-long ODK session is not a 15-minute access token of the JSON API.
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_a_wrong_password_is_central_401_2(client, collaborator):
    resp = client.post("/v1/sessions", json={"email": collaborator, "password": "sai mật khẩu"})
    assert resp.status_code == 401
    assert resp.get_json()["code"] == 401.2 and resp.get_json()["message"]


def test_central_routes_need_a_login_and_answer_in_centrals_shape(client):
    resp = client.get("/v1/projects")
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["code"] == 401.2 and "error" not in body
    missing = client.get("/v1/projects/1/forms/no_such_form", headers={})
    assert missing.status_code == 401


def test_a_json_api_access_token_also_works(client, auth):
    headers = auth.headers("collaborator", COMMUNE)
    assert client.get("/v1/projects", headers=headers).status_code == 200


def test_the_project_and_its_forms_carry_the_keys_pyodk_reads(client, as_collaborator):
    projects = client.get("/v1/projects", headers=as_collaborator).get_json()
    assert [p["id"] for p in projects] == [1]
    project = client.get("/v1/projects/1", headers=as_collaborator).get_json()
    assert {"id", "name", "createdAt", "archived", "keyId"} <= set(project)
    forms = client.get("/v1/projects/1/forms", headers=as_collaborator).get_json()
    assert [f["xmlFormId"] for f in forms] == ["exit_registration", "follow_up_visit", "payout_receipt"]
    form = client.get(FORM, headers=as_collaborator).get_json()
    for key in ("xmlFormId", "name", "version", "enketoId", "keyId", "createdAt", "updatedAt", "publishedAt"):
        assert key in form
    assert form["name"] == "Đăng ký thoát nghèo bền vững"
    assert (form["enketoId"], form["keyId"], form["state"]) == (None, None, "open")
    assert form["publishedAt"].startswith(form["version"][:4])
    other = client.get("/v1/projects/2", headers=as_collaborator)
    assert other.status_code == 404 and other.get_json()["code"] == 404.1


# -- submissions -----------------------------------------------------------------------------
def test_a_submission_posted_as_xml_returns_the_submission_object(client, as_collaborator, collaborator):
    resp = post_xml(client, as_collaborator, registration_xml())
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["instanceId"] == f"uuid:{INSTANCE_UUID}"
    assert isinstance(body["submitterId"], int)
    assert body["deviceId"] == "collect:Xb7Qz1"
    assert body["reviewState"] is None and body["updatedAt"] is None
    assert "attachments" not in body
    listed = client.get(f"{FORM}/submissions", headers=as_collaborator).get_json()
    assert listed == [body]
    assert client.get(SUBMISSION, headers=as_collaborator).get_json() == body


def test_a_submission_whose_xml_names_another_form_is_400(client, as_collaborator):
    resp = post_xml(
        client, as_collaborator, registration_xml(), url="/v1/projects/1/forms/follow_up_visit/submissions"
    )
    assert resp.status_code == 400
    assert resp.get_json()["code"] == 400.1


def test_the_same_instance_id_with_other_xml_is_409_3(client, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    resp = post_xml(client, as_collaborator, registration_xml(members="9"))
    assert resp.status_code == 409 and resp.get_json()["code"] == 409.3


def test_submissions_are_seen_only_in_their_units(client, auth, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    neighbour = session(client, auth.user("collaborator", "20920"))
    assert client.get(f"{FORM}/submissions", headers=neighbour).get_json() == []
    assert client.get(SUBMISSION, headers=neighbour).status_code == 404
    district = session(client, auth.user("district_officer", "515"))
    assert len(client.get(f"{FORM}/submissions", headers=district).get_json()) == 1
    elsewhere = session(client, auth.user("district_officer", "502"))
    assert client.get(f"{FORM}/submissions", headers=elsewhere).get_json() == []


def test_an_edit_by_put_keeps_the_submissions_instance_id(client, as_collaborator, auth):
    post_xml(client, as_collaborator, registration_xml())
    resp = post_xml(
        client, as_collaborator, registration_xml(EDIT_UUID, INSTANCE_UUID, members="6"), SUBMISSION, "PUT"
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["instanceId"] == f"uuid:{INSTANCE_UUID}" and body["updatedAt"] is not None
    registration = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=auth.headers("supervisor"))
    assert (registration.get_json()["version"], registration.get_json()["data"]["members"]) == (2, 6)
    odata = client.get(f"{FORM}.svc/Submissions", headers=as_collaborator).get_json()["value"]
    assert odata[0]["household"]["members"] == 6 and odata[0]["__system"]["edits"] == 1


def test_a_put_without_deprecated_id_or_of_a_stale_version_is_refused(client, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    no_deprecated = post_xml(client, as_collaborator, registration_xml(EDIT_UUID), SUBMISSION, "PUT")
    assert no_deprecated.status_code == 400
    post_xml(
        client, as_collaborator, registration_xml(EDIT_UUID, INSTANCE_UUID, members="6"), SUBMISSION, "PUT"
    )
    stale = post_xml(client, as_collaborator, registration_xml(OTHER_UUID, INSTANCE_UUID), SUBMISSION, "PUT")
    assert stale.status_code == 409


# -- review ----------------------------------------------------------------------------------
def test_the_commune_official_approves_through_review_state(client, auth, as_collaborator, as_official):
    post_xml(client, as_collaborator, registration_xml())
    resp = client.patch(SUBMISSION, json={"reviewState": "approved"}, headers=as_official)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["reviewState"] == "approved" and resp.get_json()["updatedAt"]
    registration = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=auth.headers("supervisor"))
    assert registration.get_json()["data"]["status"] == "approved"
    again = client.patch(SUBMISSION, json={"reviewState": "rejected"}, headers=as_official)
    assert again.status_code == 409
    assert again.get_json()["details"]["error"] == "invalid_transition"


def test_has_issues_returns_the_form_and_a_decision_elsewhere_shows_at_once(
    client, auth, as_collaborator, as_official
):
    post_xml(client, as_collaborator, registration_xml())
    assert client.patch(SUBMISSION, json={"reviewState": "hasIssues"}, headers=as_official).status_code == 200
    assert client.get(SUBMISSION, headers=as_collaborator).get_json()["reviewState"] == "hasIssues"
    registration = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=auth.headers("supervisor"))
    assert registration.get_json()["data"]["status"] == "returned"


def test_a_collaborator_may_not_review(client, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    resp = client.patch(SUBMISSION, json={"reviewState": "approved"}, headers=as_collaborator)
    assert resp.status_code == 403 and resp.get_json()["code"] == 403.1


def test_an_unknown_review_state_is_refused(client, as_collaborator, as_official):
    post_xml(client, as_collaborator, registration_xml())
    resp = client.patch(SUBMISSION, json={"reviewState": "edited"}, headers=as_official)
    assert resp.status_code == 422


# -- attachments -----------------------------------------------------------------------------
def test_attachments_are_listed_uploaded_and_downloaded(client, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    assert client.get(f"{SUBMISSION}/attachments", headers=as_collaborator).get_json() == [
        {"name": PHOTO, "exists": False}
    ]
    upload = client.post(
        f"{SUBMISSION}/attachments/{PHOTO}",
        data=PNG,
        headers={**as_collaborator, "Content-Type": "image/jpeg"},
    )
    assert upload.status_code == 200 and upload.get_json() == {"success": True}
    assert client.get(f"{SUBMISSION}/attachments", headers=as_collaborator).get_json() == [
        {"name": PHOTO, "exists": True}
    ]
    # Its type is what the bytes are (a PNG), not what the client claimed.
    download = client.get(f"{SUBMISSION}/attachments/{PHOTO}", headers=as_collaborator)
    assert download.data == PNG and download.mimetype == "image/png"


def test_an_attachment_the_submission_does_not_name_is_404(client, as_collaborator):
    post_xml(client, as_collaborator, registration_xml())
    resp = client.post(f"{SUBMISSION}/attachments/other.jpg", data=JPEG, headers=as_collaborator)
    assert resp.status_code == 404
    bad = client.post(f"{SUBMISSION}/attachments/{PHOTO}", data=b"%PDF-1.4", headers=as_collaborator)
    assert bad.status_code == 415


# -- OData -----------------------------------------------------------------------------------
def test_odata_rows_are_typed_and_paged(client, as_collaborator):
    for number, instance_uuid in enumerate((INSTANCE_UUID, EDIT_UUID, OTHER_UUID), start=1):
        household_id = f"3b0c2f4e-5a61-4d2b-9c1e-7f8a9b0c1d2{number}"
        xml = registration_xml(
            instance_uuid,
            household_id=household_id,
            household_code=f"BTM-{number}",
            location="15.27 108.06 120 5",
        )
        assert post_xml(client, as_collaborator, xml).status_code == 200
    table = client.get(f"{FORM}.svc/Submissions?$top=2&$count=true", headers=as_collaborator).get_json()
    assert table["@odata.count"] == 3 and len(table["value"]) == 2
    assert "@odata.nextLink" in table
    row = table["value"][0]
    assert row["__id"] == f"uuid:{INSTANCE_UUID}"
    assert row["household"]["members"] == 5 and row["registration"]["year"] == 2020
    assert row["household"]["location"] == {
        "type": "Point", "coordinates": [108.06, 15.27, 120.0], "properties": {"accuracy": 5.0}
    }  # fmt: skip
    assert row["__system"]["reviewState"] is None and row["__system"]["attachmentsExpected"] == 1
    rest = client.get(f"{FORM}.svc/Submissions?$skip=2", headers=as_collaborator).get_json()["value"]
    assert [r["__id"] for r in rest] == [f"uuid:{OTHER_UUID}"]
    wkt = client.get(f"{FORM}.svc/Submissions?$top=1&$wkt=true", headers=as_collaborator).get_json()
    assert wkt["value"][0]["household"]["location"] == "POINT (108.06 15.27 120)"


def test_odata_filters_on_submission_date_and_review_state(client, as_collaborator, as_official):
    post_xml(client, as_collaborator, registration_xml())
    client.patch(SUBMISSION, json={"reviewState": "approved"}, headers=as_official)
    url = f"{FORM}.svc/Submissions"
    assert (
        len(
            client.get(
                url + "?$filter=__system/submissionDate ge 2020-01-01", headers=as_collaborator
            ).get_json()["value"]
        )
        == 1
    )
    assert (
        client.get(
            url + "?$filter=__system/submissionDate lt 2020-01-01", headers=as_collaborator
        ).get_json()["value"]
        == []
    )
    approved = "?$filter=__system/reviewState eq 'approved' and __system/updatedAt ne null"
    assert len(client.get(url + approved, headers=as_collaborator).get_json()["value"]) == 1
    bad = client.get(url + "?$filter=head_name eq 'x'", headers=as_collaborator)
    assert bad.status_code == 400 and bad.get_json()["code"] == 400.1
