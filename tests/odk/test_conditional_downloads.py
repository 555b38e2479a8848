"""Collect's morning: a phone that already has every form downloads nothing but headers.

formList, each XForm and each manifest carry an ETag; sent back in If-None-Match, the same
answer is a 304 with no body (OpenRosa headers kept); a change is a 200 with a new tag.
"""

from __future__ import annotations

import dataclasses

import pytest

from server.odk import forms as odk_forms
from server.odk.forms import MediaFile, get_form, md5_hash
from tests.odk.collect import Collect, assert_openrosa_headers

BASE = "/v1/projects/1"


@pytest.fixture
def shipped(monkeypatch):
    """The shipped forms, the follow-up visit given a media file; returns a way to change it."""
    forms = {f.form_id: f for f in odk_forms.list_forms()}

    def set_media(content: bytes) -> None:
        media = (MediaFile("communes.csv", content, md5_hash(content)),)
        forms["follow_up_visit"] = dataclasses.replace(get_form("follow_up_visit"), media=media)

    def list_forms(directory=None):
        return list(forms.values())

    set_media(b"code,name\n20900,Tra Son\n")
    monkeypatch.setattr(odk_forms, "list_forms", list_forms)
    monkeypatch.setattr("server.openrosa.views.list_forms", list_forms)
    return set_media


@pytest.fixture
def collect(client, auth) -> Collect:
    return Collect(client, auth.user("collaborator", "20900"))


def get(collect: Collect, path: str, etag: str | None = None, encoding: str | None = None):
    headers = dict(collect.headers)
    if etag:
        headers["If-None-Match"] = etag
    if encoding:
        headers["Accept-Encoding"] = encoding
    return collect.client.get(BASE + path, headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        "/formList",
        "/formList?formID=exit_registration",
        "/forms/exit_registration.xml",
        "/forms/follow_up_visit/manifest",
    ],
)
def test_an_unchanged_download_is_a_304_without_a_body(collect, shipped, path):
    first = get(collect, path)
    assert first.status_code == 200 and first.data
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert "no-cache" in first.headers["Cache-Control"] and "private" in first.headers["Cache-Control"]
    again = get(collect, path, etag)
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert_openrosa_headers(again)
    other = get(collect, path, 'W/"not-this-one"')
    assert other.status_code == 200 and other.data == first.data


def test_the_tag_is_the_same_compressed_or_not_so_either_revalidates(collect, shipped):
    plain = get(collect, "/formList")
    zipped = get(collect, "/formList", encoding="gzip")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["ETag"] == plain.headers["ETag"]
    assert get(collect, "/formList", zipped.headers["ETag"], encoding="gzip").status_code == 304
    assert get(collect, "/formList", zipped.headers["ETag"]).status_code == 304


def test_a_changed_media_file_changes_the_manifest_tag(collect, shipped):
    manifest = get(collect, "/forms/follow_up_visit/manifest")
    shipped(b"code,name\n20900,Tra Son\n20901,Tra Doc\n")
    manifest_after = get(collect, "/forms/follow_up_visit/manifest", manifest.headers["ETag"])
    assert manifest_after.status_code == 200
    assert manifest_after.headers["ETag"] != manifest.headers["ETag"]
    assert b"20901" not in manifest_after.data  # the manifest lists the file's new hash
    assert md5_hash(b"code,name\n20900,Tra Son\n20901,Tra Doc\n").encode() in manifest_after.data


def test_a_tag_from_one_form_does_not_revalidate_another(collect, shipped):
    exit_form = get(collect, "/forms/exit_registration.xml")
    visit = get(collect, "/forms/follow_up_visit.xml", exit_form.headers["ETag"])
    assert visit.status_code == 200 and visit.headers["ETag"] != exit_form.headers["ETag"]


def test_an_unauthenticated_revalidation_is_still_401(client, collect, shipped):
    etag = get(collect, "/formList").headers["ETag"]
    resp = client.get(BASE + "/formList", headers={"X-OpenRosa-Version": "1.0", "If-None-Match": etag})
    assert resp.status_code == 401
