"""Device keys: an admin sets a collaborator's phone up with a QR code; the key can be revoked."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from tests.odk.collect import JPEG, Collect, assert_openrosa_headers, listed_forms, message_of
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance

COMMUNE = "20900"
PHOTO = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]


@pytest.fixture
def admin(auth) -> dict:
    return auth.headers("admin")


@pytest.fixture
def collaborator(auth) -> str:
    return auth.user("collaborator", COMMUNE)


def issue(client, admin: dict, username: str, label: str | None = "Điện thoại của chị Y Nhung") -> dict:
    resp = client.post("/api/v1/device-tokens", json={"username": username, "label": label}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_an_admin_issues_a_key_with_the_url_and_the_collect_qr_settings(client, admin, collaborator):
    issued = issue(client, admin, collaborator)
    token = issued["token"]
    assert len(token) >= 43 and issued["username"] == collaborator
    assert issued["server_url"] == f"http://localhost/v1/key/{token}/projects/1"
    settings = issued["collect_settings"]
    assert settings == {
        "general": {
            "server_url": issued["server_url"],
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": "Đăng ký thoát nghèo bền vững - Quảng Nam"},
    }
    # What the QR code holds is the same settings, zlib-compressed and base64-encoded.
    assert json.loads(zlib.decompress(base64.b64decode(issued["qr_payload"]))) == settings


def test_a_phone_set_up_with_the_key_lists_forms_and_submits_without_a_password(
    app, client, admin, collaborator, auth
):
    key = issue(client, admin, collaborator)["token"]
    phone = Collect(client, key=key)
    assert "Authorization" not in phone.headers
    forms = listed_forms(phone.form_list())
    download = forms["exit_registration"].findtext("{http://openrosa.org/xforms/xformsList}downloadUrl")
    assert download == f"http://localhost/v1/key/{key}/projects/1/forms/exit_registration.xml"
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS)
    assert phone.submit(xml, {PHOTO: JPEG}).status_code == 201
    # The submission is the key's user's: it shows in the Central list as submitted by them.
    official = auth.headers("commune_official", COMMUNE)
    listed = client.get("/v1/projects/1/forms/exit_registration/submissions", headers=official).get_json()
    me = client.get("/v1/users/current", headers=auth.headers(username=collaborator)).get_json()
    assert [(s["instanceId"], s["submitterId"]) for s in listed] == [(f"uuid:{INSTANCE_UUID}", me["id"])]


def test_a_bad_or_revoked_key_is_403_so_collect_does_not_ask_for_a_password(client, admin, collaborator):
    issued = issue(client, admin, collaborator)
    bad = Collect(client, key="not-a-key").form_list()
    assert bad.status_code == 403 and "WWW-Authenticate" not in bad.headers
    assert_openrosa_headers(bad)
    assert message_of(bad)[1] == "error"

    assert client.delete(f"/api/v1/device-tokens/{issued['id']}", headers=admin).status_code == 204
    revoked = Collect(client, key=issued["token"]).form_list()
    assert revoked.status_code == 403 and "WWW-Authenticate" not in revoked.headers
    listed = client.get("/api/v1/device-tokens", headers=admin).get_json()["items"]
    assert [(t["id"], t["revoked_at"] is not None) for t in listed] == [(issued["id"], True)]
    assert "token" not in listed[0]


def test_only_an_admin_manages_keys_and_only_for_real_users(client, auth, admin, collaborator):
    collaborator_headers = auth.headers(username=collaborator)
    resp = client.post("/api/v1/device-tokens", json={"username": collaborator}, headers=collaborator_headers)
    assert resp.status_code == 403
    assert client.get("/api/v1/device-tokens", headers=collaborator_headers).status_code == 403
    unknown = client.post("/api/v1/device-tokens", json={"username": "ai-do"}, headers=admin)
    assert unknown.status_code == 422 and "username" in unknown.get_json()["error"]["details"]
    extra = client.post(
        "/api/v1/device-tokens", json={"username": collaborator, "role": "admin"}, headers=admin
    )
    assert extra.status_code == 422
    assert client.delete("/api/v1/device-tokens/999", headers=admin).status_code == 404
