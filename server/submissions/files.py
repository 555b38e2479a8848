"""A submission's files: matched to the answers that name them, checked, written, recorded.

The bytes go to disk under their SHA-256 before the transaction (``server.odk.attachments``);
the rows naming them are written in it. A file nobody commits to is harmless: the next
upload of the same bytes reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app

from server.errors import APIError
from server.models import OdkInstance
from server.odk import attachments as files
from server.odk.forms import FormDefinition
from server.odk.instances import Instance
from server.store import odk as store


@dataclass(frozen=True)
class Upload:
    """A file that came with the submission: the multipart part's name and file name."""

    name: str
    filename: str | None
    content: bytes


def attachment_directory() -> Path:
    return Path(current_app.config["ATTACHMENT_DIR"])


def save_uploads(
    uploads: list[Upload], instance: Instance, form: FormDefinition, expected: list[str]
) -> dict[str, files.StoredFile]:
    """Check and write to disk the uploads the instance names, by name; others are ignored.

    A part is matched by its name (Collect names each part after its file), else by its
    file name; either way only a name from ``expected`` is used, never a path. Each file is
    checked against the question it answers (size, and an image must be an image); one bad
    file refuses the request (APIError 413 or 415) before anything is recorded.
    """
    stored: dict[str, files.StoredFile] = {}
    for upload in uploads:
        name = upload.name if upload.name in expected else upload.filename
        if name not in expected or name in stored:
            continue
        stored[name] = check_and_save_file(name, upload.content, form, answering_field(instance, form, name))
    return stored


def check_and_save_file(
    name: str, content: bytes, form: FormDefinition, field_name: str | None
) -> files.StoredFile:
    """Size- and type-check one attachment answering ``field_name``, then write it to disk."""
    try:
        files.check_size(len(content), current_app.config["ATTACHMENT_MAX_BYTES"])
        content_type = files.sniff_content_type(content, form.media_types.get(field_name or ""))
    except files.AttachmentError as exc:
        raise APIError(exc.code, f"{name}: {exc.message}") from exc
    return files.save_file(attachment_directory(), content, content_type)


def answering_field(instance: Instance, form: FormDefinition, name: str) -> str | None:
    """The file question whose answer is ``name`` (its media type decides what is accepted)."""
    return next((f for f in sorted(form.binary_fields) if instance.get(f) == name), None)


def keep_attachments(
    row: OdkInstance,
    stored: dict[str, files.StoredFile],
    now: datetime,
    carried_from: OdkInstance | None = None,
) -> None:
    """Record the instance's files; an edit keeps the files of the version it replaces that
    it still names and did not send again (Collect and pyodk may send only what changed)."""
    for name, saved in stored.items():
        store.save_attachment(row.id, name, saved.sha256, saved.size, saved.content_type, now)
    if carried_from is None:
        return
    previous = store.list_attachments([carried_from.id]).get(carried_from.id, {})
    for name in row.expected_attachments:
        if name in previous and name not in stored:
            old = previous[name]
            store.save_attachment(row.id, name, old.sha256, old.size, old.content_type, now)
