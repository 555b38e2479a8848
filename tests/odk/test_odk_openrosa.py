"""OpenRosa documents: what ODK Collect and Enketo read from the server."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta, timezone

import defusedxml.ElementTree as SafeET

from server.odk.forms import FORMS_DIRECTORY, get_form, list_forms
from server.odk.openrosa import (
    build_form_list,
    build_manifest,
    build_openrosa_error,
    build_openrosa_headers,
    build_openrosa_response,
)

LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE_NS = "{http://openrosa.org/http/response}"
BASE = "https://fieldsync.example/v1/projects/1"


def read_form_list(document: bytes) -> list[dict[str, str]]:
    root = SafeET.fromstring(document)
    assert root.tag == f"{LIST_NS}xforms"
    return [{child.tag.removeprefix(LIST_NS): child.text for child in xform} for xform in root]


def test_form_list_describes_every_shipped_form():
    forms = list_forms()
    entries = read_form_list(build_form_list(forms, BASE))
    assert [e["formID"] for e in entries] == ["exit_registration", "follow_up_visit", "payout_receipt"]
    registration = entries[0]
    form = get_form("exit_registration")
    assert registration == {
        "formID": "exit_registration",
        "name": "Đăng ký thoát nghèo bền vững",
        "version": form.version,
        "hash": form.hash,
        "downloadUrl": f"{BASE}/forms/exit_registration.xml",
        # It reads the phone's entity lists (households.csv …), which the manifest lists.
        "manifestUrl": f"{BASE}/forms/exit_registration/manifest",
    }
    assert all(e["hash"].startswith("md5:") and len(e["hash"]) == 36 for e in entries)


def test_form_list_is_utf8_with_the_namespace_as_default():
    document = build_form_list(list_forms(), BASE)
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert b'<xforms xmlns="http://openrosa.org/xforms/xformsList">' in document
    assert "Xác nhận hộ đã nhận chi trả".encode() in document


def test_form_id_filters_the_list():
    entries = read_form_list(build_form_list(list_forms(), BASE, form_id="payout_receipt"))
    assert [e["formID"] for e in entries] == ["payout_receipt"]
    assert read_form_list(build_form_list(list_forms(), BASE, form_id="unknown")) == []


def test_a_form_with_media_gets_a_manifest_url_and_the_manifest_lists_its_files(tmp_path):
    shutil.copy(FORMS_DIRECTORY / "follow_up_visit.xlsx", tmp_path / "follow_up_visit.xlsx")
    (tmp_path / "follow_up_visit-media").mkdir()
    (tmp_path / "follow_up_visit-media" / "danh sách xã.csv").write_text("name,label\n", encoding="utf-8")
    form = get_form("follow_up_visit", tmp_path)
    base = "https://fieldsync.example/v1/key/abc123/projects/1"

    (entry,) = read_form_list(build_form_list([form], base))
    assert entry["manifestUrl"] == f"{base}/forms/follow_up_visit/manifest"

    manifest = SafeET.fromstring(build_manifest(form, base))
    assert manifest.tag == f"{MANIFEST_NS}manifest"
    (media,) = manifest.findall(f"{MANIFEST_NS}mediaFile")
    assert media.findtext(f"{MANIFEST_NS}filename") == "danh sách xã.csv"
    assert media.findtext(f"{MANIFEST_NS}hash") == form.media[0].hash
    assert media.findtext(f"{MANIFEST_NS}downloadUrl") == (
        f"{base}/forms/follow_up_visit/attachments/danh%20s%C3%A1ch%20x%C3%A3.csv"
    )


def test_a_form_without_media_has_no_manifest_url_and_an_empty_manifest():
    form = dataclasses.replace(get_form("exit_registration"), csv_files=())
    (entry,) = read_form_list(build_form_list([form], BASE))
    assert "manifestUrl" not in entry
    assert list(SafeET.fromstring(build_manifest(form, BASE))) == []


def test_submission_response_carries_the_message_like_odk_central():
    root = SafeET.fromstring(build_openrosa_response("Đã nhận phiếu <đăng ký> & ảnh"))
    assert root.tag == f"{RESPONSE_NS}OpenRosaResponse"
    (message,) = root
    assert message.tag == f"{RESPONSE_NS}message"
    assert message.get("nature") == ""
    assert message.text == "Đã nhận phiếu <đăng ký> & ảnh"


def test_error_response_has_nature_error():
    message = SafeET.fromstring(build_openrosa_error("Đăng ký đã được duyệt, không thể sửa."))[0]
    assert message.get("nature") == "error"
    assert message.text == "Đăng ký đã được duyệt, không thể sửa."


def test_openrosa_headers_state_version_limit_and_date_in_gmt():
    moment = datetime(2020, 5, 2, 8, 15, tzinfo=timezone(timedelta(hours=7)))
    assert build_openrosa_headers(10_485_760, now=moment) == {
        "X-OpenRosa-Version": "1.0",
        "X-OpenRosa-Accept-Content-Length": "10485760",
        "Date": "Sat, 02 May 2020 01:15:00 GMT",
    }
    assert build_openrosa_headers(1)["Date"].endswith(" GMT")
