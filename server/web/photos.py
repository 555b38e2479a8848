"""The photo of a registration's signed form: as ODK Collect sent it with the submission, or
as the offline app uploaded it (``/api/v1/uploads``, named by ``signed_form_photo``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, send_file

from server.models import OdkAttachment
from server.odk import attachments as files
from server.odk.instances import InstanceError, parse_instance
from server.store import odk as odk_store
from server.store import uploads as upload_store
from server.store.sync import SqlStore
from server.submissions.files import attachment_directory
from server.web import blp
from server.web.approvals import find_in_scope
from server.web.sessions import require_page
from sync.lifecycles import READ_FORMS, roles_for

PHOTO_FIELD = "signed_form_photo"  # the exit-registration form's image question


@dataclass(frozen=True)
class UploadedPhoto:
    """A photo the offline app uploaded, read like an ODK attachment."""

    name: str
    sha256: str
    content_type: str | None


def find_signed_form_photo(registration_id: str) -> OdkAttachment | UploadedPhoto | None:
    """The stored photo of the registration's form: the one its ``signed_form_photo`` names
    (uploaded by the offline app), else the one the version the engine took from ODK names.

    Only an accepted instance wrote the registration: a refused edit's photo, or the photo
    of a form that merely named this registration's id, is never shown on it.
    """
    uploaded = find_uploaded_photo(registration_id)
    if uploaded is not None:
        return uploaded
    current = odk_store.get_accepted_instance("registrations", registration_id)
    if current is None:
        return None
    try:
        name = parse_instance(current.xml).get(PHOTO_FIELD)
    except InstanceError:
        return None
    return odk_store.list_attachments([current.id]).get(current.id, {}).get(name) if name else None


def find_uploaded_photo(registration_id: str) -> UploadedPhoto | None:
    """The photo the registration's ``signed_form_photo`` names, if its upload finished."""
    record = SqlStore().get_record("registrations", registration_id)
    digest = record.data.get(PHOTO_FIELD) if record is not None else None
    if not digest:
        return None
    upload = upload_store.get_file_of_record("registrations", registration_id, digest)
    if upload is None:
        return None
    return UploadedPhoto(upload.filename or "signed-form.jpg", digest, upload.content_type)


@blp.route("/registrations/<registration_id>/photo")
@require_page(*roles_for(READ_FORMS))
def signed_form_photo(registration_id: str):
    """The image itself; 404 without one, or for a registration outside the user's units."""
    record = find_in_scope(SqlStore(), "registrations", registration_id)
    photo = find_signed_form_photo(record.id)
    if photo is None:
        abort(404)
    path = files.blob_path(attachment_directory(), photo.sha256)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=photo.content_type, download_name=photo.name, max_age=0)
    # The bytes came from a phone: never let a browser guess them into something executable.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.cache_control.private = True
    return response
