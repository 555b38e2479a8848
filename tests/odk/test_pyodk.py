"""pyodk itself, and raw chunked uploads, against the app served on 127.0.0.1.

pyodk (ODK's own Python client) reads its server and login from a config file, as a data
manager's script would; nothing in it is patched. The commune official's approval through
``client.submissions.review`` must be the same decision the JSON API and the phones see.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from pyodk.client import Client
from urllib3 import encode_multipart_formdata

from tests.conftest import PASSWORD
from tests.odk.collect import JPEG
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, HOUSEHOLD_ID, INSTANCE_UUID, fill_instance
from tests.odk.servers import live_server  # noqa: F401 - the fixture
from tests.phones import Phone

COMMUNE = "20900"
FORM = "exit_registration"
PHOTO = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
INSTANCE_ID = f"uuid:{INSTANCE_UUID}"


def pyodk_client(monkeypatch, tmp_path, base_url: str, username: str) -> Client:
    """A pyodk Client configured the documented way: a TOML file named by PYODK_CONFIG_FILE."""
    folder = tmp_path / username
    folder.mkdir()
    config = folder / "pyodk_config.toml"
    config.write_text(
        "[central]\n"
        f'base_url = "{base_url}"\n'
        f'username = "{username}"\n'
        f'password = "{PASSWORD}"\n'
        "default_project_id = 1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PYODK_CONFIG_FILE", str(config))
    monkeypatch.setenv("PYODK_CACHE_FILE", str(folder / "pyodk_cache.toml"))
    return Client()


def test_pyodk_submits_lists_reviews_and_reads_the_table(monkeypatch, tmp_path, live_server, client, auth):  # noqa: F811
    collaborator = auth.user("collaborator", COMMUNE)
    official = auth.user("commune_official", COMMUNE)
    photo = tmp_path / PHOTO
    photo.write_bytes(JPEG)
    xml = fill_instance(FORM, EXIT_REGISTRATION_ANSWERS).decode("utf-8")

    with pyodk_client(monkeypatch, tmp_path, live_server, collaborator) as odk:
        created = odk.submissions.create(xml=xml, form_id=FORM, attachments=[photo])
        assert created.instanceId == INSTANCE_ID
        assert [(a.name, a.exists) for a in created.attachments] == [(PHOTO, True)]
        assert [s.instanceId for s in odk.submissions.list(form_id=FORM)] == [INSTANCE_ID]
        fetched = odk.submissions.get(INSTANCE_ID, form_id=FORM)
        assert (fetched.reviewState, fetched.deviceId) == (None, "collect:Xb7Qz1")
        assert [f.xmlFormId for f in odk.forms.list()] == [FORM, "follow_up_visit", "payout_receipt"]
    # The session token was cached where PYODK_CACHE_FILE said.
    assert "token" in (tmp_path / collaborator / "pyodk_cache.toml").read_text()

    with pyodk_client(monkeypatch, tmp_path, live_server, official) as odk:
        odk.submissions.review(INSTANCE_ID, "approved", form_id=FORM)
        table = odk.submissions.get_table(
            form_id=FORM,
            count=True,
            filter="__system/submissionDate ge 2020-01-01 and __system/reviewState eq 'approved'",
        )
    assert table["@odata.count"] == 1
    row = table["value"][0]
    assert row["__id"] == INSTANCE_ID and row["__system"]["reviewState"] == "approved"
    assert row["household"]["head_name"] == "Hồ Văn Đước"
    assert row["__system"]["attachmentsPresent"] == 1

    # The JSON API and the phone's next pull agree: the registration is approved.
    collaborator_headers = auth.headers(username=collaborator)
    registration = client.get(
        f"/api/v1/registrations/{INSTANCE_UUID}", headers=collaborator_headers
    ).get_json()
    assert (registration["data"]["status"], registration["data"]["decided_by"]) == ("approved", official)
    phone = Phone(client, collaborator_headers)
    phone.pull()
    assert phone.get("registrations", INSTANCE_UUID)["data"]["status"] == "approved"
    assert phone.get("registrations", INSTANCE_UUID)["version"] == 2
    assert phone.get("households", HOUSEHOLD_ID)["version"] == 1


def test_a_chunked_multipart_submission_is_taken(live_server, client, auth):  # noqa: F811
    """Some clients stream the multipart body with Transfer-Encoding: chunked (no length)."""
    collaborator = auth.user("collaborator", COMMUNE)
    xml = fill_instance(FORM, EXIT_REGISTRATION_ANSWERS)
    body, content_type = encode_multipart_formdata(
        {"xml_submission_file": ("submission.xml", xml, "text/xml"), PHOTO: (PHOTO, JPEG, "image/jpeg")}
    )
    chunks = (body[i : i + 700] for i in range(0, len(body), 700))  # a generator: requests chunks it
    resp = requests.post(
        f"{live_server}/v1/projects/1/submission",
        data=chunks,
        headers={"X-OpenRosa-Version": "1.0", "Content-Type": content_type},
        auth=(collaborator, PASSWORD),
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert resp.headers["X-OpenRosa-Version"] == "1.0"
    official = auth.headers("commune_official", COMMUNE)
    attachments = client.get(
        f"/v1/projects/1/forms/{FORM}/submissions/uuid%3A{INSTANCE_UUID}/attachments", headers=official
    ).get_json()
    assert attachments == [{"name": PHOTO, "exists": True}]


def test_copies_of_one_instance_sent_at_once_make_one_submission(live_server, client, auth):  # noqa: F811
    """Collect retrying while its first POST is still in flight: every copy 201, one record."""
    collaborator = auth.user("collaborator", COMMUNE)
    xml = fill_instance(FORM, EXIT_REGISTRATION_ANSWERS)
    body, content_type = encode_multipart_formdata(
        {"xml_submission_file": ("submission.xml", xml, "text/xml")}
    )
    start = threading.Barrier(4)

    def send() -> int:
        start.wait()
        return requests.post(
            f"{live_server}/v1/projects/1/submission",
            data=body,
            headers={"X-OpenRosa-Version": "1.0", "Content-Type": content_type},
            auth=(collaborator, PASSWORD),
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: send(), range(4)))
    assert statuses == [201] * 4
    supervisor = auth.headers("supervisor")
    listed = client.get(f"/v1/projects/1/forms/{FORM}/submissions", headers=supervisor).get_json()
    assert [s["instanceId"] for s in listed] == [INSTANCE_ID]
    registration = client.get(f"/api/v1/registrations/{INSTANCE_UUID}", headers=supervisor).get_json()
    assert registration["version"] == 1
