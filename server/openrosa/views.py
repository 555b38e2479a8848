"""OpenRosa 1.0 for ODK Collect and Enketo, at ODK Central's URLs (``/v1/projects/1/...``).

Every route exists twice: as ``/v1/projects/1/...`` (HTTP Basic or a Bearer token) and as
``/v1/key/<key>/projects/1/...`` (a device key, the URL a settings QR code gives a phone).
Requests must say ``X-OpenRosa-Version: 1.0``; every response carries the OpenRosa headers,
errors included (``server/errors.py`` renders them as ``<OpenRosaResponse>``).
"""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, current_app, g, request

from server.auth.odk import authenticate_odk, device_key_label
from server.central.lists import build_user_list, manifest_entries
from server.clock import utcnow
from server.conditional import answer_conditionally
from server.errors import APIError
from server.odk.entity_lists import list_name_of
from server.odk.forms import list_forms
from server.odk.openrosa import (
    OPENROSA_VERSION,
    XML_CONTENT_TYPE,
    build_form_list,
    build_manifest,
    build_openrosa_headers,
    build_openrosa_response,
)
from server.submissions.intake import Upload, find_form, receive_instance

blp = Blueprint("openrosa", __name__, url_prefix="/v1")
PROJECT = "/projects/1"
XML_PART = "xml_submission_file"


def route(rule: str, **options):
    """Register a view at ``/v1/projects/1<rule>`` and at ``/v1/key/<key>/projects/1<rule>``."""

    def decorator(view):
        blp.add_url_rule(PROJECT + rule, view_func=view, defaults={"key": None}, **options)
        blp.add_url_rule("/key/<key>" + PROJECT + rule, view_func=view, **options)
        return view

    return decorator


# Downloads that are also plain REST reads in ODK Central (pyodk's ``client.forms.get_xml``,
# a browser fetching a form's CSV): they need no OpenRosa header.
REST_READS = frozenset({"openrosa.form_xml", "openrosa.form_media"})


@blp.before_request
def check_openrosa_request():
    """The OpenRosa version header first (400 without it), then who is calling."""
    if request.headers.get("X-OpenRosa-Version", "").strip() != OPENROSA_VERSION and not (
        request.method == "GET" and request.endpoint in REST_READS
    ):
        raise APIError("bad_request", "OpenRosa requests must send the header X-OpenRosa-Version: 1.0.")
    authenticate_odk((request.view_args or {}).get("key"))


@blp.after_request
def add_openrosa_headers(response: Response) -> Response:
    response.headers.update(build_openrosa_headers(current_app.config["MAX_CONTENT_LENGTH"]))
    return response


def project_url(key: str | None) -> str:
    """The project's URL as this client reaches it (with its device key, if it used one)."""
    root = request.url_root.rstrip("/")
    return f"{root}/v1/key/{key}{PROJECT}" if key else f"{root}/v1{PROJECT}"


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML_CONTENT_TYPE)


@route("/formList", methods=["GET"])
def form_list(key: str | None):
    """The forms a phone may download; ``?formID=`` narrows it to one."""
    forms = list_forms()
    body = build_form_list(forms, project_url(key), request.args.get("formID"))
    return answer_conditionally(xml_response(body))


@route("/forms/<form_id>.xml", methods=["GET"])
def form_xml(key: str | None, form_id: str):
    """The XForm itself."""
    return answer_conditionally(xml_response(find_form(form_id).xform))


@route("/forms/<form_id>/manifest", methods=["GET"])
def form_manifest(key: str | None, form_id: str):
    """The media files the form needs on the phone (only forms with media have one)."""
    form = find_form(form_id)
    if not form.has_media:
        raise APIError("not_found", f"Form {form_id!r} has no media files.")
    return answer_conditionally(
        xml_response(build_manifest(form, project_url(key), manifest_entries(form, g.user)))
    )


@route("/forms/<form_id>/attachments/<name>", methods=["GET"])
def form_media(key: str | None, form_id: str, name: str):
    """One media file of a form, by the name its manifest gives.

    Typed by its name, so a CSV (a choice list, an entity list) goes out compressed to a phone
    that asks, and with an ETag, so a morning's check of an unchanged file downloads nothing.
    An entity list (``households.csv`` …) is built for the caller: their units' records only,
    its ETag the md5 its manifest entry gives.
    """
    form = find_form(form_id)
    list_name = list_name_of(name)
    if list_name is not None and name in form.csv_files:
        user_list = build_user_list(g.user, list_name)
        return answer_conditionally(
            Response(user_list.content, content_type=media_type(name)), user_list.etag
        )
    media = form.find_media(name)
    if media is None:
        raise APIError("not_found", f"Form {form_id!r} has no media file {name!r}.")
    return answer_conditionally(Response(media.content, content_type=media_type(name)))


def media_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


@route("/submission", methods=["HEAD", "POST"])
def submission(key: str | None):
    """``HEAD``: Collect checks it may submit (204). ``POST``: one instance, multipart.

    201 and an ``<OpenRosaResponse>`` when the instance is taken (or was already); 4xx with
    the reason otherwise (``server/submissions/intake.py`` says which and when).
    """
    if request.method == "HEAD":
        return Response(status=204)
    if request.mimetype != "multipart/form-data":
        raise APIError(
            "unsupported_media_type",
            "Send the submission as multipart/form-data with an xml_submission_file part.",
        )
    xml = read_xml_part()
    uploads = [
        Upload(name=name, filename=part.filename, content=read_part(part))
        for name, part in request.files.items(multi=True)
        if name != XML_PART
    ]
    intake = receive_instance(
        g.user,
        xml,
        uploads,
        now=utcnow(),
        device_hint=request.args.get("deviceID") or device_key_label(),
    )
    intake.raise_refusal()
    return xml_response(build_openrosa_response(intake.message()), status=201)


def read_xml_part() -> bytes:
    # The whole request is bounded by MAX_CONTENT_LENGTH (Flask answers 413 beyond it).
    part = request.files.get(XML_PART)
    if part is not None:
        return part.read()
    if XML_PART in request.form:  # a client that sends it as a plain field
        return request.form[XML_PART].encode("utf-8")
    raise APIError("bad_request", "The submission has no xml_submission_file part.")


def read_part(part) -> bytes:
    """A part's bytes, reading one byte past the attachment limit so an oversize one shows."""
    return part.stream.read(current_app.config["ATTACHMENT_MAX_BYTES"] + 1)
