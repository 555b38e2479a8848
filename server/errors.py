"""One registry of error codes and the one function that renders an error, in the route's shape.

Views never build error bodies: they raise ``APIError`` (or a ``sync.errors.SyncError`` of the
engine), and the handlers here turn it into the body the route's clients read, with the
registered status. The body's shape belongs to whoever registered the route: each route family
calls ``register_error_shape`` in its own ``init_app``:

- the JSON API (``/api/v1``) and everything unregistered: the contract's envelope
  ``{"error": {"code", "message", "details"}}`` (``render_envelope``, here);
- ODK Central's REST routes (``server/central``): Central's ``{"code": 404.1, "message", "details"}``;
- OpenRosa routes (``server/openrosa``): an ``<OpenRosaResponse>`` that ODK Collect shows;
- the web pages (``server/web``): an HTML page in the visitor's language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from sync.errors import SyncError

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
# Domain codes from the engine that share a status with a generic one: answered exactly as
# that one (outside the caller's units is answered as a record that does not exist).
ALIASES = {"out_of_scope": "not_found"}


def public_code(code: str) -> str:
    """The code a client sees for an engine or registry code (the alias table, applied once)."""
    return ALIASES.get(code, code)


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
        code = public_code(code)
        base = ERRORS.get(code) or ERRORS["bad_request"]
        super().__init__(message or base[1])
        self.code = code
        self.status = status or base[0]
        self.message = message or base[1]
        self.details = details or {}
        self.headers = headers or {}


def refusal_error(refusal: dict) -> APIError:
    """An engine refusal as stored in a push result (``{"code", "message", "details"}``) as the
    error a client sees; an unknown code is the client's invalid input."""
    code = public_code(refusal.get("code") or "validation_error")
    return APIError(
        code if code in ERRORS else "validation_error", refusal.get("message"), refusal.get("details") or {}
    )


# Renders an error in one family's shape: the error -> a response (its status and headers are
# set by ``answer_error`` afterwards).
ShapeRenderer = Callable[[APIError], Response]


def register_error_shape(
    app: Flask, prefix: str, render: ShapeRenderer, blueprint: str | None = None
) -> None:
    """Errors of one route family take that family's shape; each family registers its own.

    A request whose route belongs to ``blueprint`` (or a blueprint nested in it) takes this
    shape; a request that matched no route (a 404, a 405) takes the shape of the longest
    registered ``prefix`` of its path. Everything else gets the contract's envelope.
    """
    app.extensions.setdefault("error_shapes", []).append((prefix, blueprint, render))


def shape_for_request() -> ShapeRenderer:
    """The renderer of the current request's route family (the envelope by default)."""
    if not has_request_context():
        return render_envelope
    shapes = current_app.extensions.get("error_shapes", [])
    if request.blueprints:
        for _prefix, blueprint, render in shapes:
            if blueprint in request.blueprints:
                return render
    best = None
    for prefix, _blueprint, render in shapes:
        if request.path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, render)
    return best[1] if best else render_envelope


def render_envelope(err: APIError) -> Response:
    """The contract's ``{"error": {"code", "message", "details"}}``."""
    return jsonify({"error": {"code": err.code, "message": err.message, "details": err.details}})


def answer_error(
    code: str,
    message: str | None = None,
    details: dict | None = None,
    status: int | None = None,
    headers: dict | None = None,
):
    """The error for this request, in the shape of the family that registered its route.

    The choice is by route, never by Accept header, so /api/v1 and the ODK routes always keep
    their machine-readable shape whatever a client asks for.
    """
    err = APIError(code, message, details, status, headers)
    resp = shape_for_request()(err)
    resp.status_code = err.status
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


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
    app.register_error_handler(SyncError, answer_sync_error)
    app.register_error_handler(HTTPException, render_http_exception)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        code = getattr(exc, "code", None)
        if isinstance(code, str) and public_code(code) in ERRORS:
            # A typed refusal of a Flask-free module (an account rule, an unreadable instance,
            # a wrong attachment): its class names a registered code.
            return answer_error(code, str(exc) or None, getattr(exc, "details", None))
        if is_database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return answer_error("unavailable", headers={"Retry-After": "5"})
        log.exception("unhandled error on %s %s", request.method, request.path)
        return answer_error("internal_error")


def answer_sync_error(exc: SyncError):
    """A typed refusal of the engine; an aliased one (out of scope) keeps no message of its own."""
    if public_code(exc.code) != exc.code:
        return answer_error(exc.code)
    if exc.code not in ERRORS:
        log.error("engine refusal with an unregistered code %r", exc.code)
        return answer_error("internal_error")
    return answer_error(exc.code, exc.message or None, exc.details)


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
