"""The photo of a registration's signed form, as ODK Collect sent it with the submission."""

from __future__ import annotations

from flask import abort, send_file

from server.models import OdkAttachment
from server.odk import attachments as files
from server.odk.instances import InstanceError, parse_instance
from server.store import odk as odk_store
from server.store.sync import SqlStore
from server.submissions.files import attachment_directory
from server.web import blp
from server.web.approvals import find_in_scope
from server.web.sessions import require_page
from sync.lifecycles import READ_FORMS, roles_for

PHOTO_FIELD = "signed_form_photo"  # the exit-registration form's image question


def find_signed_form_photo(registration_id: str) -> OdkAttachment | None:
    """The stored photo of the registration's form, as the version the engine took names it.

    Only an accepted instance wrote the registration: a refused edit's photo, or the photo
    of a form that merely named this registration's id, is never shown on it.
    """
    current = odk_store.get_accepted_instance("registrations", registration_id)
    if current is None:
        return None
    try:
        name = parse_instance(current.xml).get(PHOTO_FIELD)
    except InstanceError:
        return None
    return odk_store.list_attachments([current.id]).get(current.id, {}).get(name) if name else None


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
