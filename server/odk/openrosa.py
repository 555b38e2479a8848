"""OpenRosa 1.0 documents: the form list, form manifests and submission responses.

Built with the standard library's ElementTree, which escapes every text and attribute, so a
form title or an error message can never inject markup. The shapes follow what ODK Central
sends (``lib/formats/openrosa.js``), since that is what ODK Collect and Enketo are tested
against: ``nature`` is empty on success and ``error`` on failure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - only builds documents; parsing uses defusedxml
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from server.odk.forms import FormDefinition

XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"

OPENROSA_VERSION = "1.0"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


def build_form_list(forms: Iterable[FormDefinition], base_url: str, form_id: str | None = None) -> bytes:
    """The ``formList`` document: one ``<xform>`` per form, or only ``form_id``'s when given.

    ``base_url`` is the project's URL as the client reached it, without a trailing slash,
    e.g. ``https://host/v1/projects/1`` or ``https://host/v1/key/<token>/projects/1``; download
    and manifest URLs are built under it, as ODK Central lays them out. An unknown
    ``form_id`` gives an empty list (what Central answers), not an error.
    """
    root = _new_document("xforms", XFORMS_LIST_NS)
    for form in forms:
        if form_id is not None and form.form_id != form_id:
            continue
        xform = ET.SubElement(root, "xform")
        _add_text(xform, "formID", form.form_id)
        _add_text(xform, "name", form.title)
        _add_text(xform, "version", form.version)
        _add_text(xform, "hash", form.hash)
        _add_text(xform, "downloadUrl", form_download_url(base_url, form.form_id))
        if form.has_media:
            _add_text(xform, "manifestUrl", form_manifest_url(base_url, form.form_id))
    return _serialize(root)


def build_manifest(form: FormDefinition, base_url: str, lists: Iterable[tuple[str, str, bool]] = ()) -> bytes:
    """The manifest of a form's media files, each with its hash and download URL.

    ``lists`` are the per-user CSV files the form reads, as ``(filename, hash, is_entity_list)``:
    their hash is of the calling user's copy, so each phone re-downloads exactly when its own
    data changed. An entity list is marked ``type="entityList"``, as ODK Central marks it.
    """
    root = _new_document("manifest", MANIFEST_NS)
    for media in form.media:
        item = ET.SubElement(root, "mediaFile")
        _add_text(item, "filename", media.name)
        _add_text(item, "hash", media.hash)
        _add_text(item, "downloadUrl", form_media_url(base_url, form.form_id, media.name))
    for filename, digest, is_entity_list in lists:
        item = ET.SubElement(root, "mediaFile", {"type": "entityList"} if is_entity_list else {})
        _add_text(item, "filename", filename)
        _add_text(item, "hash", digest)
        _add_text(item, "downloadUrl", form_media_url(base_url, form.form_id, filename))
    return _serialize(root)


def build_openrosa_response(message: str, nature: str = "") -> bytes:
    """``<OpenRosaResponse>`` carrying one ``<message>``; Collect shows the message to the user."""
    root = _new_document("OpenRosaResponse", RESPONSE_NS)
    root.set("items", "0")
    _add_text(root, "message", message).set("nature", nature)
    return _serialize(root)


def build_openrosa_error(message: str) -> bytes:
    """An ``<OpenRosaResponse>`` whose message has ``nature="error"``, for 4xx answers."""
    return build_openrosa_response(message, nature="error")


def build_openrosa_headers(accept_content_length: int, now: datetime | None = None) -> dict[str, str]:
    """The headers every OpenRosa response carries.

    ``accept_content_length`` is the largest request body the server takes; Collect splits
    a submission with many attachments into several POSTs to stay under it.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "X-OpenRosa-Version": OPENROSA_VERSION,
        "X-OpenRosa-Accept-Content-Length": str(accept_content_length),
        "Date": format_datetime(moment, usegmt=True),
    }


def form_download_url(base_url: str, form_id: str) -> str:
    """Where the XForm is downloaded: ``<base>/forms/<formID>.xml``."""
    return f"{base_url}/forms/{quote(form_id, safe='')}.xml"


def form_manifest_url(base_url: str, form_id: str) -> str:
    """Where the manifest is downloaded: ``<base>/forms/<formID>/manifest``."""
    return f"{base_url}/forms/{quote(form_id, safe='')}/manifest"


def form_media_url(base_url: str, form_id: str, name: str) -> str:
    """Where a media file is downloaded: ``<base>/forms/<formID>/attachments/<name>``."""
    return f"{base_url}/forms/{quote(form_id, safe='')}/attachments/{quote(name, safe='')}"


def _new_document(tag: str, namespace: str) -> ET.Element:
    # The namespace is written as a plain xmlns attribute on the root, so every element below
    # is in it with a bare tag name: the exact form OpenRosa clients are used to reading.
    return ET.Element(tag, {"xmlns": namespace})


def _add_text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
