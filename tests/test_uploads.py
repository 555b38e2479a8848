"""Resumable photo uploads (tus 1.0 core + creation) at /api/v1/uploads.

The phone announces a photo of a registration, sends it in pieces, asks where it stands after
a cut, and the finished file is kept by SHA-256 and named on the registration by an engine
change (pulled by every phone, audited). The state lives in the database and on disk: a
second server process, and gunicorn's several workers, continue an upload another began.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from server import create_app
from server.odk.attachments import blob_path
from tests import factories as f
from tests.phones import Phone
from tests.servers import gunicorn
from tests.web.pages import PageSession

TUS = {"Tus-Resumable": "1.0.0"}
REG_FIELDS = ("household_id", "year", "kind", "members", "needs", "commitment", "signed_on", "notes")


def jpeg(size: int) -> bytes:
    """Bytes that start like a JPEG (the server reads the first bytes), of ``size`` bytes."""
    return b"\xff\xd8\xff\xe0" + os.urandom(size - 4)


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


@pytest.fixture
def captured(client, auth):
    """A collaborator's phone with a household and its registration on the server."""
    headers = auth.headers("collaborator")
    phone = Phone(client, headers, device_id="phone-photo")
    hh = phone.create("households", f.household())
    reg = phone.create("registrations", {k: f.registration(hh)[k] for k in REG_FIELDS})
    phone.sync()
    return phone, headers, reg


def create(client, headers, reg: str, length: int, expect: int = 201, **extra):
    resp = client.post(
        "/api/v1/uploads",
        headers={
            **headers,
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": meta(registration_id=reg, **extra),
        },
    )
    assert resp.status_code == expect, resp.get_data(as_text=True)
    return resp


def patch(client, headers, url: str, offset: int, body: bytes, expect: int = 204):
    resp = client.patch(
        url,
        data=body,
        headers={
            **headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert resp.status_code == expect, resp.get_data(as_text=True)
    return resp


def head(client, headers, url: str):
    resp = client.head(url, headers={**headers, **TUS})
    assert resp.status_code == 200
    return int(resp.headers["Upload-Offset"])


def test_a_photo_sent_in_two_halves_is_kept_by_sha256_and_named_on_its_registration(
    app, client, auth, captured
):
    phone, headers, reg = captured
    content = jpeg(300_000)
    resp = create(client, headers, reg, len(content), filename="giay.jpg", device_id="phone-photo")
    url = resp.headers["Location"]
    assert url.startswith("/api/v1/uploads/") and resp.headers["Tus-Resumable"] == "1.0.0"
    assert head(client, headers, url) == 0

    half = len(content) // 2
    assert patch(client, headers, url, 0, content[:half]).headers["Upload-Offset"] == str(half)
    assert head(client, headers, url) == half  # what a phone asks after its line dropped
    wrong = patch(client, headers, url, 0, content[:10], expect=409)
    assert wrong.get_json()["error"]["code"] == "offset_mismatch" and wrong.headers["Upload-Offset"] == str(
        half
    )
    done = patch(client, headers, url, half, content[half:])
    digest = hashlib.sha256(content).hexdigest()
    assert done.headers["Upload-Offset"] == str(len(content))
    assert (done.headers["FieldSync-Sha256"], done.headers["FieldSync-Change-Status"]) == (digest, "applied")

    stored = blob_path(Path(app.config["ATTACHMENT_DIR"]), digest)
    assert stored.read_bytes() == content
    phone.pull()
    record = phone.get("registrations", reg)
    assert record["data"]["signed_form_photo"] == digest and record["version"] == 2
    supervisor = auth.headers("supervisor")
    trail = client.get(f"/api/v1/audit?entity=registrations&id={reg}", headers=supervisor).get_json()
    last = trail["items"][-1]
    assert last["device_id"] == "phone-photo" and last["after"]["signed_form_photo"] == digest
    # The commune official sees it on the form's page, as a Collect photo would be.
    official = PageSession(app, auth.user("commune_official"))
    page = official.get(f"/web/registrations/{reg}")
    assert f"/web/registrations/{reg}/photo" in page.get_data(as_text=True)
    image = official.get(f"/web/registrations/{reg}/photo")
    assert image.status_code == 200 and image.data == content and image.mimetype == "image/jpeg"
    # A repeated last piece or HEAD changes nothing: the link is one change, applied once.
    assert head(client, headers, url) == len(content)
    phone.pull()
    assert phone.get("registrations", reg)["version"] == 2


def test_another_server_process_continues_the_upload(app, client, captured):
    """No upload state in a worker's memory: a second app on the same database takes over."""
    _, headers, reg = captured
    content = jpeg(100_000)
    url = create(client, headers, reg, len(content)).headers["Location"]
    patch(client, headers, url, 0, content[:40_000])
    other = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
        }
    ).test_client()
    assert head(other, headers, url) == 40_000
    patch(other, headers, url, 40_000, content[40_000:])
    digest = hashlib.sha256(content).hexdigest()
    assert blob_path(Path(app.config["ATTACHMENT_DIR"]), digest).read_bytes() == content


def test_refusals_use_the_contract_envelope(app, client, auth, captured):
    _, headers, reg = captured
    no_version = client.post("/api/v1/uploads", headers={**headers, "Upload-Length": "10"})
    assert no_version.status_code == 412 and no_version.headers["Tus-Version"] == "1.0.0"
    assert no_version.get_json()["error"]["code"] == "tus_version"
    too_big = create(client, headers, reg, app.config["ATTACHMENT_MAX_BYTES"] + 1, expect=413)
    assert too_big.get_json()["error"]["code"] == "payload_too_large"
    assert (
        create(client, headers, "not-a-uuid", 10, expect=422).get_json()["error"]["code"]
        == "validation_error"
    )
    bad_meta = client.post(
        "/api/v1/uploads", headers={**headers, **TUS, "Upload-Length": "10", "Upload-Metadata": "colour cmVk"}
    )
    assert bad_meta.status_code == 422
    url = create(client, headers, reg, 1000).headers["Location"]
    wrong_type = client.patch(url, data=b"x", headers={**headers, **TUS, "Upload-Offset": "0"})
    assert wrong_type.status_code == 415
    not_image = patch(client, headers, url, 0, b"<html>" + b"x" * 100, expect=415)
    assert not_image.get_json()["error"]["code"] == "unsupported_media_type"
    assert head(client, headers, url) == 0  # nothing of it was kept
    past_end = patch(client, headers, url, 0, jpeg(1001), expect=413)
    assert past_end.get_json()["error"]["code"] == "payload_too_large"
    # Another collaborator of the same commune cannot see or continue this upload.
    other = auth.headers("collaborator")
    assert client.head(url, headers={**other, **TUS}).status_code == 404
    assert patch(client, other, url, 0, jpeg(10), expect=404).get_json()["error"]["code"] == "not_found"
    assert client.head(url, headers=TUS).status_code == 401
    options = client.open("/api/v1/uploads", method="OPTIONS")
    assert options.status_code == 204 and "creation" in options.headers["Tus-Extension"]


def test_a_registration_outside_the_units_or_a_reader_cannot_upload(app, client, auth):
    with app.app_context():
        far_hh = f.put("households", f.household("20335"))
        far = f.put("registrations", f.registration(far_hh), commune_code="20335")
    collaborator = auth.headers("collaborator")
    assert create(client, collaborator, far, 10, expect=404).get_json()["error"]["code"] == "not_found"
    officer = auth.headers("district_officer")
    assert create(client, officer, far, 10, expect=403).get_json()["error"]["code"] == "forbidden"


def test_a_photo_of_a_locked_registration_is_kept_but_the_link_is_refused(app, client, auth, captured):
    phone, headers, reg = captured
    official = auth.headers("commune_official")
    decided = client.post(
        f"/api/v1/registrations/{reg}/decision",
        json={"decision": "approve", "note": "", "version": 1},
        headers=official,
    )
    assert decided.status_code == 200
    content = jpeg(5_000)
    url = create(client, headers, reg, len(content)).headers["Location"]
    done = patch(client, headers, url, 0, content)
    assert done.headers["FieldSync-Change-Status"] == "rejected"
    phone.pull()
    assert phone.get("registrations", reg)["data"]["signed_form_photo"] is None


@pytest.mark.slow
def test_a_connection_cut_mid_body_keeps_the_bytes_that_arrived_under_gunicorn(app, client, captured):
    """Three workers; a PATCH whose connection dies half-way keeps what came through, and the
    rest goes to whichever worker answers next."""
    _, headers, reg = captured
    content = jpeg(400_000)
    with gunicorn(app, workers=3) as base:

        def call(method, path, body=None, extra=None):
            req = urllib.request.Request(
                base + path, data=body, method=method, headers={**headers, **TUS, **(extra or {})}
            )
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp

        created = call(
            "POST",
            "/api/v1/uploads",
            extra={"Upload-Length": str(len(content)), "Upload-Metadata": meta(registration_id=reg)},
        )
        path = urlsplit(created.headers["Location"]).path
        host, port = urlsplit(base).hostname, urlsplit(base).port
        sent = 150_000
        with socket.create_connection((host, port)) as raw:
            lines = [
                f"PATCH {path} HTTP/1.1",
                f"Host: {host}:{port}",
                f"Authorization: {headers['Authorization']}",
                "Tus-Resumable: 1.0.0",
                "Upload-Offset: 0",
                "Content-Type: application/offset+octet-stream",
                f"Content-Length: {len(content)}",
            ]
            raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + content[:sent])
            raw.shutdown(socket.SHUT_WR)  # the line drops: no more bytes will come
            raw.recv(4096)
        offsets = set()
        for _ in range(6):  # several workers answer the same
            offsets.add(int(call("HEAD", path).headers["Upload-Offset"]))
        assert offsets == {sent}
        done = call(
            "PATCH",
            path,
            content[sent:],
            {"Upload-Offset": str(sent), "Content-Type": "application/offset+octet-stream"},
        )
        assert done.status == 204
    digest = hashlib.sha256(content).hexdigest()
    assert blob_path(Path(app.config["ATTACHMENT_DIR"]), digest).read_bytes() == content
