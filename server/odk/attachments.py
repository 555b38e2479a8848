"""Submission attachments: checked against the question they answer, kept by content hash.

A file arrives named by the phone (``1588381500123.jpg``), but that name never becomes a
path: the bytes are stored under their SHA-256 (``<dir>/ab/abcdef…``), so a name like
``../../wsgi.py`` can reach nothing, the same photo sent twice (Collect re-sends media with
every POST of a split submission) is kept once, and an edit that keeps a photo costs nothing.

What a file *is* is read from its first bytes, not from the name or the Content-Type the
client claims: an image question takes only JPEG, PNG, GIF, WebP, HEIC/HEIF or BMP.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class AttachmentError(ValueError):
    """An attachment the server refuses; ``code`` is the error registry's."""

    code = "invalid_attachment"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AttachmentTooLargeError(AttachmentError):
    code = "payload_too_large"


class AttachmentTypeError(AttachmentError):
    code = "unsupported_media_type"


@dataclass(frozen=True)
class StoredFile:
    """A file written to the attachment store."""

    sha256: str
    size: int
    content_type: str


# (content type, test on the first bytes), by the family a question's mediatype names.
_SIGNATURES: dict[str, tuple[tuple[str, object], ...]] = {
    "image": (
        ("image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
        ("image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
        ("image/gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
        ("image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
        ("image/heic", lambda b: b[4:8] == b"ftyp" and b[8:12] in (b"heic", b"heix", b"mif1", b"heif")),
        ("image/bmp", lambda b: b.startswith(b"BM")),
    ),
    "audio": (
        ("audio/mp4", lambda b: b[4:8] == b"ftyp" and b[8:11] in (b"M4A", b"mp4", b"iso")),
        ("audio/3gpp", lambda b: b[4:8] == b"ftyp" and b[8:11] == b"3gp"),
        ("audio/amr", lambda b: b.startswith(b"#!AMR")),
        ("audio/mpeg", lambda b: b.startswith(b"ID3") or b[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
        ("audio/ogg", lambda b: b.startswith(b"OggS")),
        ("audio/wav", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ),
    "video": (
        ("video/3gpp", lambda b: b[4:8] == b"ftyp" and b[8:11] == b"3gp"),
        ("video/mp4", lambda b: b[4:8] == b"ftyp"),
        ("video/webm", lambda b: b.startswith(b"\x1a\x45\xdf\xa3")),
    ),
}
_FAMILY_NAMES = {"image": "an image", "audio": "an audio recording", "video": "a video"}


def sniff_content_type(content: bytes, media_type: str | None) -> str:
    """The content type of ``content`` for a question of ``media_type`` (``image/*`` …).

    Raises AttachmentTypeError when the question wants an image, a recording or a video and
    the bytes are not one. A question with no media type (a plain file) takes any bytes,
    stored as ``application/octet-stream``.
    """
    family = (media_type or "").split("/", 1)[0]
    signatures = _SIGNATURES.get(family)
    if signatures is None:
        return "application/octet-stream"
    head = content[:16]
    for content_type, matches in signatures:
        if matches(head):  # type: ignore[operator]
            return content_type
    raise AttachmentTypeError(f"The file must be {_FAMILY_NAMES[family]}; its content is not one.")


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a file over ``max_bytes`` (AttachmentTooLargeError)."""
    if size > max_bytes:
        raise AttachmentTooLargeError(f"An attachment may be at most {max_bytes} bytes.")


def save_file(directory: Path, content: bytes, content_type: str) -> StoredFile:
    """Write ``content`` under its SHA-256 (once; a second save of the same bytes is free).

    Written to a temporary file in the same folder and renamed into place, so a reader never
    sees half a file and two workers saving the same bytes at once both succeed.
    """
    digest = hashlib.sha256(content).hexdigest()
    path = blob_path(directory, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.chmod(temporary, 0o640)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return StoredFile(digest, len(content), content_type)


def blob_path(directory: Path, sha256: str) -> Path:
    """Where the file with this SHA-256 lives; the name is checked to be a hex digest."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return Path(directory) / sha256[:2] / sha256
