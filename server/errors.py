"""One registry of error codes and the one function that renders an error, in the route's shape.

Views never build error bodies: they raise ``APIError`` (or a domain exception from
``sync.errors`` carrying a ``code``), and the handlers here turn it into the body the route's
clients read, with the registered status:

- the JSON API (``/api/v1``): the contract's ``{"error": {"code", "message", "details"}}``;
- ODK Central's REST routes (``/v1/...``, for pyodk): ``{"code": 404.1, "message", "details"}``,
  Central's numeric problem codes, with our snake_case code in ``details.error``;
- OpenRosa routes (``/v1/.../formList``, ``/submission``, form downloads, and everything under
  a device key ``/v1/key/<token>/``): an ``<OpenRosaResponse>`` whose message ODK Collect shows,
  with the OpenRosa headers, and a Basic challenge on 401 so Collect asks for a password;
- the web pages: an HTML page (``register_error_pages``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Flask, Response, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from server.odk.openrosa import XML_CONTENT_TYPE, build_openrosa_error, build_openrosa_headers

log = logging.getLogger(__name__)

# code -> (HTTP status, default message)
ERRORS: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request could not be understood."),
    "csrf_failed": (400, "The form's security token is missing or wrong; reload the page and try again."),
    "unauthorized": (401, "Authentication is required: send a valid Bearer access token."),
    "invalid_credentials": (401, "Unknown username or wrong password."),
    "invalid_device_key": (403, "This device key is not valid; ask for a new settings QR code."),
    "forbidden": (403, "Your role may not do this."),
    "not_found": (404, "No such resource."),
    "method_not_allowed": (405, "This method is not allowed on this resource."),
    "version_conflict": (409, "The record changed since the version you sent."),
    "invalid_transition": (409, "The record is not in a state that allows this."),
    "locked": (409, "The record is locked."),
    "conflict": (409, "The request conflicts with the current state."),
    "instance_conflict": (409, "Another submission with this instanceID was already received."),
    "stale_edit": (409, "This edit replaces a version of the submission that is no longer current."),
    "offset_mismatch": (409, "Upload-Offset is not where the upload stands; ask with HEAD."),
    "tus_version": (412, "Send Tus-Resumable: 1.0.0."),
    "batch_id_taken": (409, "This batch_id was sent by another user."),
    "conflict_open": (409, "A conflict is open on this record or its household; resolve it first."),
    "payload_too_large": (413, "The request body is too large."),
    "unsupported_media_type": (415, "Send JSON with Content-Type: application/json."),
    "unsupported_content_encoding": (415, "Send the body uncompressed or with Content-Encoding: gzip."),
    "unsafe_xml": (400, "The XML declares a DTD or entities, which are not accepted."),
    "malformed_xml": (400, "The body is not well-formed XML."),
    "invalid_submission": (400, "The submission cannot be read."),
    "unknown_form_version": (400, "The submission names a version of the form that was never published."),
    "validation_error": (422, "The request is invalid."),
    "read_only": (422, "A field the caller may not set was changed."),
    "too_many_requests": (429, "Too many attempts; wait before trying again."),
    "internal_error": (500, "An unexpected error occurred; it has been logged."),
    "retry": (503, "The change could not be committed; send the same batch again."),
    "unavailable": (503, "The service is temporarily unavailable; try again shortly."),
}
# Domain codes from the engine that share a status with a generic one.
ALIASES = {"out_of_scope": "not_found"}


class APIError(Exception):
    """An error the client should see, by registry code."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        details: dict | None = None,
        status: int | None = None,
        headers: dict | None = None,
    ):
        base = ERRORS.get(code) or ERRORS[ALIASES.get(code, "bad_request")]
        super().__init__(message or base[1])
        self.code = code
        self.status = status or base[0]
        self.message = message or base[1]
        self.details = details or {}
        self.headers = headers or {}


# OpenRosa routes answer in XML; every other route under /v1/ is ODK Central's JSON API.
OPENROSA_PATH = re.compile(
    r"^/v1/(key/[^/]+/.*"
    r"|projects/[^/]+/(formList|submission|forms/[^/]+\.xml|forms/[^/]+/manifest"
    r"|forms/[^/]+/attachments/[^/]+))$"
)
# ODK Central's problem codes are <status>.<n>; the ones its clients know by number.
CENTRAL_CODES = {
    "unauthorized": 401.2,
    "invalid_credentials": 401.2,
    "instance_conflict": 409.3,
    "unknown_form_version": 400.8,  # Central's unexpectedValue, for the form version
}
BASIC_CHALLENGE = 'Basic realm="FieldSync", charset="UTF-8"'


def error_shape() -> str:
    """``openrosa``, ``central`` or ``envelope``: which clients the current route serves."""
    if not has_request_context() or not request.path.startswith("/v1/"):
        return "envelope"
    return "openrosa" if OPENROSA_PATH.match(request.path) else "central"


def error_response(
    code: str,
    message: str | None = None,
    details: dict | None = None,
    status: int | None = None,
    headers: dict | None = None,
):
    """An error as a Flask response, in the shape the route's clients read (module doc)."""
    err = APIError(code, message, details, status, headers)
    shape = error_shape()
    if shape == "openrosa":
        resp = Response(build_openrosa_error(err.message), status=err.status, content_type=XML_CONTENT_TYPE)
        resp.headers.update(build_openrosa_headers(current_app.config["MAX_CONTENT_LENGTH"]))
        if err.status == 401 and not request.path.startswith("/v1/key/"):
            resp.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    elif shape == "central":
        number = CENTRAL_CODES.get(err.code, float(f"{err.status}.1"))
        resp = jsonify(
            {"code": number, "message": err.message, "details": {"error": err.code, **err.details}}
        )
    else:
        resp = jsonify({"error": {"code": err.code, "message": err.message, "details": err.details}})
    resp.status_code = err.status
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


# Renders an error as an HTML page: (code, message, status, headers) -> response.
PageRenderer = Callable[[str, str, int, dict], object]


def register_error_pages(app: Flask, prefix: str, render: PageRenderer) -> None:
    """Errors of requests under ``prefix`` (the web pages) become pages, not JSON envelopes."""
    app.extensions["error_pages"] = (prefix, render)


def answer_error(
    code: str,
    message: str | None = None,
    details: dict | None = None,
    status: int | None = None,
    headers: dict | None = None,
):
    """The error for this request: an HTML page under the pages' prefix, else the envelope.

    The choice is by path, not by Accept header, so /api/v1 and the ODK routes always keep
    their machine-readable shape whatever a client asks for.
    """
    pages = current_app.extensions.get("error_pages")
    if pages is not None and request.path.startswith(pages[0]):
        err = APIError(code, message, details, status, headers)
        return pages[1](err.code, err.message, err.status, err.headers)
    return error_response(code, message, details, status, headers)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def render_http_exception(exc: HTTPException):
    """Werkzeug's and flask-smorest's HTTP errors, in the envelope (a page under the pages' prefix)."""
    status = exc.code or 500
    code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    data = getattr(exc, "data", None) or {}
    details = {}
    if status == 422 and "messages" in data:
        details = flatten_locations(data["messages"])
        return answer_error("validation_error", None, details)
    message = None if status in (404, 405, 413, 415) else (exc.description or None)
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return answer_error(code, message, details, status=status, headers=headers)


def flatten_locations(messages: dict) -> dict:
    """smorest keys messages by location ({"json": {...}}); the contract wants field names."""
    details: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            details.update(fields)
        else:
            details[location] = fields
    return details


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(
        APIError, lambda e: answer_error(e.code, e.message, e.details, e.status, e.headers)
    )
    app.register_error_handler(HTTPException, render_http_exception)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        code = getattr(exc, "code", None)
        if isinstance(code, str) and code in ALIASES:
            # Outside the caller's units: answer exactly as for a record that does not exist.
            return answer_error(ALIASES[code])
        if isinstance(code, str) and code in ERRORS:
            # A typed domain exception from the engine.
            return answer_error(code, str(exc) or None, getattr(exc, "details", None))
        if is_database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return answer_error("unavailable", headers={"Retry-After": "5"})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return answer_error("internal_error")


# PostgreSQL SQLSTATEs that mean "the database cannot take this now", whatever the exception
# class psycopg maps them to: connection exceptions (08...), insufficient resources such as a
# full disk (53...), an administrator or crash shutdown (57P0...), and a read-only transaction
# (25006: a standby after failover, or default_transaction_read_only).
UNAVAILABLE_STATE_PREFIXES = ("08", "53", "57P0", "25006")


def is_database_unavailable(exc: Exception) -> bool:
    """A lost connection, a read-only or full disk: the client may retry later."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if state.startswith(UNAVAILABLE_STATE_PREFIXES):
        return True
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "readonly",
            "read-only",
            "disk",
            "full",
            "connection",
            "terminat",
            "server closed",
            "could not connect",
            "locked",
        )
    )
