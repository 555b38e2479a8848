"""``/api/v1/uploads``: a photo sent over a bad line, resumed where the line dropped it.

The protocol is tus 1.0 (https://tus.io/protocols/resumable-upload): the phone announces
the file (``POST`` with ``Upload-Length`` and ``Upload-Metadata`` naming the registration),
asks how much arrived (``HEAD`` → ``Upload-Offset``) and sends the rest (``PATCH`` with
``Upload-Offset`` and ``Content-Type: application/offset+octet-stream``). Each PATCH's bytes
are written to disk as they arrive, so a connection cut in the middle keeps what came through.

Nothing about an upload lives in a worker's memory: the offset is a database column, moved
by compare-and-set under an exclusive lock of the partial file, so any worker answers any
request. The finished file is kept by SHA-256 in the attachment store (like an ODK
attachment) and linked to its registration by an engine change setting
``signed_form_photo`` - versioned, merged, scoped and audited like any push, pulled by
every phone. Only JPEG, PNG, WebP and the other image types an ODK image question takes.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected

from schemas.records import validate_record
from server.auth.current import actor_and_scope, current_scope, current_user, require_roles
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.models import Upload
from server.odk import attachments as files
from server.store import uploads as store
from server.store.sync import SqlStore
from server.submissions.files import attachment_directory
from server.transactions import run_write
from sync.engine import push_batch
from sync.lifecycles import PUSH_REGISTRATIONS, roles_for

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
PHOTO_FIELD = "signed_form_photo"
CHUNK = 64 * 1024
# The link's change and batch ids derive from the upload's id: a retried finish is a duplicate.
LINK_NAMESPACE = uuid.UUID("6f1d9a52-3c1e-4a57-9a3e-0d6b8c1f4e21")

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads")


@blp.after_request
def tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.before_request
def check_tus_version():
    """Every request but OPTIONS names the protocol version it speaks (412 otherwise)."""
    if request.method == "OPTIONS":
        return
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise APIError(
            "tus_version",
            f"Send Tus-Resumable: {TUS_VERSION}.",
            {"Tus-Resumable": [f"Must be {TUS_VERSION}."]},
            headers={"Tus-Version": TUS_VERSION},
        )


def partial_directory() -> Path:
    return attachment_directory() / "partial"


def partial_path(upload_id: str) -> Path:
    return partial_directory() / str(uuid.UUID(upload_id))


def max_bytes() -> int:
    return current_app.config["ATTACHMENT_MAX_BYTES"]


@blp.route("", methods=["OPTIONS"])
def discover():
    """What the server speaks (tus discovery); no login needed."""
    return Response(
        status=204,
        headers={"Tus-Version": TUS_VERSION, "Tus-Extension": "creation", "Tus-Max-Size": str(max_bytes())},
    )


def header_integer(name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit() or len(value) > 15:
        raise APIError(
            "validation_error", f"{name} must be a non-negative integer.", {name: ["Not an integer."]}
        )
    return int(value)


def read_metadata() -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (tus creation)."""
    out: dict[str, str] = {}
    raw = request.headers.get("Upload-Metadata", "")
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise APIError(
                "validation_error", "Upload-Metadata values must be base64.", {"Upload-Metadata": [key]}
            ) from exc
    unknown = set(out) - {"registration_id", "filename", "filetype", "device_id"}
    if unknown:
        raise APIError(
            "validation_error",
            "Unknown Upload-Metadata keys.",
            {"Upload-Metadata": [f"Unknown key {k}." for k in sorted(unknown)]},
        )
    return out


@blp.route("", methods=["POST"])
@require_roles(*roles_for(PUSH_REGISTRATIONS))  # who writes registrations
def create():
    """Announce a photo of a registration in the caller's units: 201 with its ``Location``."""
    user = current_user()
    length = header_integer("Upload-Length")
    if length > max_bytes():
        raise APIError(
            "payload_too_large", f"A photo may be at most {max_bytes()} bytes.", {"max_bytes": max_bytes()}
        )
    if length == 0:
        raise APIError("validation_error", "The file is empty.", {"Upload-Length": ["Must be at least 1."]})
    meta = read_metadata()
    try:
        registration_id = str(uuid.UUID(meta.get("registration_id", "")))
    except ValueError as exc:
        raise APIError(
            "validation_error",
            "Upload-Metadata must name the registration (registration_id).",
            {"registration_id": ["Not a valid UUID."]},
        ) from exc
    record = SqlStore().get_record("registrations", registration_id)
    if (
        record is None
        or record.deleted
        or not current_scope().covers(record.commune_code, record.district_code)
    ):
        raise APIError("not_found", "No such registration in your units.")
    now = utcnow()
    upload = Upload(
        id=str(uuid.uuid4()),
        user_id=user.id,
        device_id=(meta.get("device_id") or None) and meta["device_id"][:120],
        entity="registrations",
        record_id=registration_id,
        field=PHOTO_FIELD,
        filename=(meta.get("filename") or None) and meta["filename"][:255],
        length=length,
        received=0,
        commune_code=record.commune_code,
        district_code=record.district_code,
        created_at=now,
        updated_at=now,
    )
    partial_directory().mkdir(parents=True, exist_ok=True)
    partial_path(upload.id).touch()
    store.create_upload(upload)
    db.session.commit()
    return Response(status=201, headers={"Location": f"{blp.url_prefix}/{upload.id}", "Upload-Offset": "0"})


def find_upload(upload_id: str) -> Upload:
    try:
        canonical = str(uuid.UUID(upload_id))
    except ValueError as exc:
        raise APIError("not_found", "No such upload.") from exc
    upload = store.get_upload(canonical, current_user().id)
    if upload is None:
        raise APIError("not_found", "No such upload.")
    return upload


def state_headers(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.received), "Upload-Length": str(upload.length)}
    if upload.completed_at is not None:
        headers["FieldSync-Sha256"] = upload.sha256 or ""
        headers["FieldSync-Change-Status"] = (upload.result or {}).get("status", "")
    return headers


# HEAD and PATCH only authenticate: an upload is its creator's alone, so anyone else's - or
# any id for a role that cannot create uploads - is 404 alike.
@blp.route("/<upload_id>", methods=["HEAD"])
@require_roles()
def offset(upload_id: str):
    """How many bytes arrived (``Upload-Offset``); a full upload not yet linked is linked now."""
    upload = find_upload(upload_id)
    if upload.received == upload.length and upload.completed_at is None:
        finish(upload)
    return Response(status=200, headers=state_headers(upload))


@blp.route("/<upload_id>", methods=["PATCH"])
@require_roles()
def append(upload_id: str):
    """Append the body at ``Upload-Offset``; what arrives before a dropped connection is kept."""
    upload = find_upload(upload_id)
    if request.mimetype != OFFSET_STREAM:
        raise APIError("unsupported_media_type", f"Send Content-Type: {OFFSET_STREAM}.")
    start = header_integer("Upload-Offset")
    declared = request.content_length
    if declared is not None and start + declared > upload.length:
        raise APIError(
            "payload_too_large", "The body goes past Upload-Length.", {"Upload-Length": [str(upload.length)]}
        )
    partial_directory().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=partial_directory()) as incoming:
        size, cut = receive(incoming, upload.length - start)
        incoming.seek(0)
        path = partial_path(upload.id)
        if not path.exists():
            raise APIError("not_found", "This upload's bytes are gone; start a new upload.")
        with open(path, "r+b") as part:
            fcntl.flock(part, fcntl.LOCK_EX)  # one writer per upload, across workers
            db.session.expire(upload)
            if upload.completed_at is not None or start != upload.received:
                raise APIError(
                    "offset_mismatch",
                    f"The upload is at offset {upload.received}, not {start}.",
                    {"Upload-Offset": [str(upload.received)]},
                    headers={"Upload-Offset": str(upload.received)},
                )
            if start == 0 and size:
                head = incoming.read(16)
                incoming.seek(0)
                try:
                    files.sniff_content_type(head, "image/*")
                except files.AttachmentTypeError as exc:
                    raise APIError(exc.code, exc.message) from exc
            part.seek(start)
            part.truncate()
            shutil.copyfileobj(incoming, part)
            part.flush()
            os.fsync(part.fileno())
            if not store.advance_upload(upload.id, start, start + size, utcnow()):
                raise APIError("offset_mismatch", "Another request moved this upload.")
            db.session.commit()
            db.session.refresh(upload)
            if cut:
                raise APIError(
                    "bad_request",
                    "The connection dropped; the bytes received are kept.",
                    headers={"Upload-Offset": str(upload.received)},
                )
            if upload.received == upload.length:
                finish(upload)
    return Response(status=204, headers=state_headers(upload))


def receive(out, room: int) -> tuple[int, bool]:
    """Copy the request body to ``out`` as it arrives; (bytes, whether the client went away)."""
    size = 0
    stream = request.stream
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                return size, False
            size += len(chunk)
            if size > room:
                raise APIError("payload_too_large", "The body goes past Upload-Length.")
            out.write(chunk)
    except ClientDisconnected:
        return size, True


def finish(upload: Upload) -> None:
    """Keep the file by SHA-256 and link it to its registration through the engine."""
    directory = attachment_directory()
    path = partial_path(upload.id)
    if upload.sha256 is None:
        digest = hashlib.sha256()
        with open(path, "rb") as part:
            head = part.read(16)
            part.seek(0)
            for block in iter(lambda: part.read(1 << 20), b""):
                digest.update(block)
        content_type = files.sniff_content_type(head, "image/*")
        upload.sha256, upload.content_type = digest.hexdigest(), content_type
        db.session.commit()  # the digest first: a retried finish finds the file by it
    target = files.blob_path(directory, upload.sha256)
    if path.exists():
        if target.exists():
            path.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o640)
            os.replace(path, target)
    result = run_write(lambda: link(upload))
    db.session.refresh(upload)
    return result


def link(upload: Upload) -> dict:
    """The engine change that names the file on its record (one per upload, however retried)."""
    user = current_user()
    store_ = SqlStore()
    now = utcnow()
    current = store_.get_record(upload.entity, upload.record_id)
    if current is None or current.deleted:
        result = {
            "status": "rejected",
            "errors": {"code": "not_found", "message": "The registration is gone."},
        }
    else:
        change = {
            "change_id": str(uuid.uuid5(LINK_NAMESPACE, upload.id)),
            "entity": upload.entity,
            "id": upload.record_id,
            "op": "upsert",
            "base_version": current.version,
            "data": {**dict(current.data), upload.field: upload.sha256},
            "client_time": None,
        }
        device_id = upload.device_id or f"app-{user.username}"
        batch_id = str(uuid.uuid5(LINK_NAMESPACE, f"batch:{upload.id}"))
        response = push_batch(
            store_, actor_and_scope(user)[0], device_id, batch_id, [change], now, validate_record
        )
        store_.flush()
        result = response["results"][0]
    store.complete_upload(upload.id, upload.sha256, upload.content_type, result, now)
    return result
