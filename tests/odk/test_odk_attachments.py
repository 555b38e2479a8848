"""Attachments: what a file is comes from its bytes; where it is kept comes from its hash."""

from __future__ import annotations

import hashlib

import pytest

from server.odk.attachments import (
    AttachmentTooLargeError,
    AttachmentTypeError,
    blob_path,
    check_size,
    save_file,
    sniff_content_type,
)
from tests.odk.collect import JPEG, PNG


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (b"GIF89a" + b"\x00" * 10, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
    ],
)
def test_an_image_question_takes_real_images(content, expected):
    assert sniff_content_type(content, "image/*") == expected


@pytest.mark.parametrize(
    "content",
    [b"<html><script>alert(1)</script>", b"%PDF-1.4", b"MZ\x90\x00", b"", b"\x00\x00\x00\x18ftypisom"],
)
def test_an_image_question_refuses_anything_else(content):
    with pytest.raises(AttachmentTypeError):
        sniff_content_type(content, "image/*")


def test_a_plain_file_question_takes_any_bytes():
    assert sniff_content_type(b"%PDF-1.4", None) == "application/octet-stream"
    assert sniff_content_type(b"#!AMR\n", "audio/*") == "audio/amr"


def test_the_size_limit_is_inclusive():
    check_size(10, 10)
    with pytest.raises(AttachmentTooLargeError):
        check_size(11, 10)


def test_files_are_kept_once_under_their_hash(tmp_path):
    first = save_file(tmp_path, JPEG, "image/jpeg")
    again = save_file(tmp_path, JPEG, "image/jpeg")
    assert first == again and first.sha256 == hashlib.sha256(JPEG).hexdigest()
    path = blob_path(tmp_path, first.sha256)
    assert path.read_bytes() == JPEG and path.parent.parent == tmp_path
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [first.sha256]


def test_a_blob_path_is_never_built_from_anything_but_a_digest(tmp_path):
    for name in ("../../etc/passwd", "1588381500123.jpg", "A" * 64):
        with pytest.raises(ValueError):
            blob_path(tmp_path, name)
