"""Answers compressed when the client asks, per route family: a phone on EDGE downloads a
fraction of the bytes and reads back exactly what it would have read uncompressed."""

from __future__ import annotations

import dataclasses
import gzip
import json

import brotli
import pytest
from backports import zstd

from server.extensions import db
from server.odk import forms as odk_forms
from server.odk.forms import MediaFile, get_form, md5_hash
from tests.conftest import PASSWORD
from tests.factories import household, payout, put, registration
from tests.odk.collect import Collect
from tests.web.pages import PageSession

DECODERS = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress}


def fetch(client, url: str, encoding: str | None, headers: dict | None = None):
    """GET ``url`` asking for ``encoding`` (None: nothing asked); the raw response."""
    asked = {"Accept-Encoding": encoding} if encoding else {}
    return client.get(url, headers={**(headers or {}), **asked})


def assert_same_body_compressed(client, url: str, headers: dict | None = None, decode=None) -> bytes:
    """Plain, then gzip, brotli and zstd: each encoded when asked, each the same body decoded."""
    plain = fetch(client, url, None, headers)
    assert plain.status_code == 200, plain.data[:300]
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    for encoding, decompress in DECODERS.items():
        resp = fetch(client, url, encoding, headers)
        assert resp.status_code == 200
        assert resp.headers["Content-Encoding"] == encoding, (url, encoding)
        assert "Accept-Encoding" in resp.headers["Vary"]
        body = decompress(resp.data)
        assert len(resp.data) < len(body)
        if decode is None:
            assert body == plain.data
        else:
            assert decode(body) == decode(plain.data)
    return plain.data


def seed_commune(app, households: int = 20) -> None:
    with app.app_context():
        for n in range(households):
            hid = put("households", household(code=f"HN-{n:04d}", head_name=f"Hồ Văn Thị {n}"))
            rid = put("registrations", registration(hid, status="approved"))
            put("payouts", payout(hid, rid, status="pending", due_date="2020-06-30"))
        db.session.commit()


def test_a_pull_is_compressed_when_the_phone_asks_and_decodes_to_the_same_json(app, client, auth):
    seed_commune(app)
    headers = auth.headers("collaborator")
    body = assert_same_body_compressed(client, "/api/v1/sync/pull?limit=1000", headers, decode=changes_of)
    assert len(json.loads(body)["changes"]) == 60


def changes_of(body: bytes) -> list:
    # The cursor is signed per request; the records are what must be the same.
    return json.loads(body)["changes"]


def test_gzip_is_what_odk_collect_and_pyodk_get_and_zstd_is_preferred_by_browsers(app, client, auth):
    seed_commune(app)
    headers = auth.headers("collaborator")
    okhttp = fetch(client, "/api/v1/households", "gzip", headers)
    assert okhttp.headers["Content-Encoding"] == "gzip"
    browser = fetch(client, "/api/v1/households", "gzip, deflate, br, zstd", headers)
    assert browser.headers["Content-Encoding"] == "zstd"
    assert json.loads(zstd.decompress(browser.data)) == json.loads(gzip.decompress(okhttp.data))
    refused = fetch(client, "/api/v1/households", "identity", headers)
    assert "Content-Encoding" not in refused.headers


def test_record_lists_delays_and_reports_are_compressed(app, client, auth):
    seed_commune(app)
    collaborator = auth.headers("collaborator")
    supervisor = auth.headers("supervisor")
    assert_same_body_compressed(client, "/api/v1/households?limit=100", collaborator)
    assert_same_body_compressed(client, "/api/v1/registrations", collaborator)
    assert_same_body_compressed(client, "/api/v1/reports/exit-registrations?year=2020", supervisor)
    assert_same_body_compressed(client, "/api/v1/reports/payouts?year=2020", supervisor)
    assert_same_body_compressed(client, "/api/v1/delays?as_of=2030-01-01", supervisor)


def test_csv_exports_are_compressed_and_xlsx_is_not(app, client, auth):
    seed_commune(app)
    supervisor = auth.headers("supervisor")
    csv = assert_same_body_compressed(
        client, "/api/v1/reports/exit-registrations?year=2020&format=csv", supervisor
    )
    assert csv.startswith("\ufeff".encode())
    assert_same_body_compressed(client, "/api/v1/delays?as_of=2030-01-01&format=csv", supervisor)
    xlsx = fetch(
        client, "/api/v1/reports/exit-registrations?year=2020&format=xlsx", "gzip, br, zstd", supervisor
    )
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "Content-Encoding" not in xlsx.headers


@pytest.fixture
def form_with_media(monkeypatch):
    """The follow-up form with a CSV of communes, as an entity list or a choice file would be."""
    content = ("code,name\n" + "".join(f"{20900 + n},Xã số {n}\n" for n in range(100))).encode()
    with_media = dataclasses.replace(
        get_form("follow_up_visit"), media=(MediaFile("communes.csv", content, md5_hash(content)),)
    )
    forms = [with_media if f.form_id == "follow_up_visit" else f for f in odk_forms.list_forms()]

    def list_forms(directory=odk_forms.FORMS_DIRECTORY):
        return forms

    monkeypatch.setattr(odk_forms, "list_forms", list_forms)
    monkeypatch.setattr("server.openrosa.views.list_forms", list_forms)
    return content


def test_openrosa_form_list_forms_and_manifests_are_compressed(client, auth, form_with_media):
    collect = Collect(client, auth.user("collaborator"))
    base = "/v1/projects/1"
    assert_same_body_compressed(client, f"{base}/formList", collect.headers)
    xform = assert_same_body_compressed(client, f"{base}/forms/exit_registration.xml", collect.headers)
    assert b"<h:html" in xform
    # The manifest lists the phone's entity lists beside the media file: compressed too.
    assert b"households.csv" in assert_same_body_compressed(
        client, f"{base}/forms/follow_up_visit/manifest", collect.headers
    )
    # An empty entity list (no payout waits here) is too small to be worth a compression header.
    small = fetch(client, f"{base}/forms/payout_receipt/attachments/payouts.csv", "gzip", collect.headers)
    assert small.status_code == 200 and len(small.data) < 500
    assert "Content-Encoding" not in small.headers and "Accept-Encoding" in small.headers["Vary"]


def test_a_forms_csv_media_file_is_compressed_as_csv(client, auth, form_with_media):
    collect = Collect(client, auth.user("collaborator"))
    url = "/v1/projects/1/forms/follow_up_visit/attachments/communes.csv"
    body = assert_same_body_compressed(client, url, collect.headers)
    assert body == form_with_media
    assert fetch(client, url, None, collect.headers).mimetype == "text/csv"


def test_a_manifest_long_enough_is_compressed(client, auth, monkeypatch):
    files = tuple(MediaFile(f"list_{n:03d}.csv", b"x", md5_hash(b"x")) for n in range(20))
    many = dataclasses.replace(get_form("follow_up_visit"), media=files)
    forms = [many if f.form_id == "follow_up_visit" else f for f in odk_forms.list_forms()]
    monkeypatch.setattr(odk_forms, "list_forms", lambda directory=None: forms)
    monkeypatch.setattr("server.openrosa.views.list_forms", lambda directory=None: forms)
    collect = Collect(client, auth.user("collaborator"))
    body = assert_same_body_compressed(
        client, "/v1/projects/1/forms/follow_up_visit/manifest", collect.headers
    )
    assert body.count(b"<mediaFile>") == 20


def test_central_json_for_pyodk_is_compressed(app, client, auth):
    username = auth.user("supervisor")
    token = client.post("/v1/sessions", json={"email": username, "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert_same_body_compressed(client, "/v1/projects/1/forms", headers)


def test_html_pages_and_static_files_are_compressed_and_static_stays_streamed(app, auth):
    page = PageSession(app, auth.user("supervisor"))
    html = assert_same_body_compressed(page.client, "/web/dashboard")
    assert b"<html" in html
    css = assert_same_body_compressed(page.client, "/web/static/web.css")
    assert b"{" in css
    # send_file streams the file: compressed chunk by chunk, never read whole into a body.
    streamed = page.client.get("/web/static/web.css", headers={"Accept-Encoding": "gzip"}, buffered=False)
    assert streamed.is_streamed and "Content-Length" not in streamed.headers
    assert gzip.decompress(b"".join(streamed.response)) == css
    streamed.close()


def test_an_error_answer_is_not_compressed_but_says_vary(client, auth):
    resp = fetch(
        client, "/api/v1/households/00000000-0000-4000-8000-000000000000", "gzip", auth.headers("admin")
    )
    assert resp.status_code == 404 and "Content-Encoding" not in resp.headers
    assert resp.get_json()["error"]["code"] == "not_found"


def test_a_photo_is_sent_as_it_is(client, auth):
    from tests.odk.collect import JPEG
    from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance

    username = auth.user("collaborator", "20900")
    token = client.post("/v1/sessions", json={"email": username, "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    form = "/v1/projects/1/forms/exit_registration"
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID)
    assert (
        client.post(
            f"{form}/submissions", data=xml, headers=headers, content_type="application/xml"
        ).status_code
        == 200
    )
    name = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
    photo = f"{form}/submissions/uuid%3A{INSTANCE_UUID}/attachments/{name}"
    assert client.post(photo, data=JPEG, headers={**headers, "Content-Type": "image/jpeg"}).status_code == 200
    resp = fetch(client, photo, "gzip, br, zstd", headers)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg" and len(resp.data) > 500
    assert "Content-Encoding" not in resp.headers and resp.data == JPEG
