"""Request bodies: bounded by what the route takes, and gzip-decoded, before anything reads them.

A 30 MB JSON body of nested empty lists sent to ``POST /api/v1/auth/token`` used to be read,
parsed (seconds, ~1.5 GB of one worker) and only then refused; a 10 kB gzip body can inflate
to gigabytes. ``RequestBodies`` is a WSGI middleware in front of Flask that settles both the
same way, before routing's views, before authentication, before any parsing:

- Each route takes a body of at most its own size (``LIMITS``, by endpoint; a setting name
  each): login, refresh, decisions and conflict resolutions a few KiB, a push its 5 MiB, ODK
  submissions and attachments theirs; any other route ``BODY_MAX_BYTES``.
- A ``Content-Length`` over the limit is refused at once (413 ``payload_too_large``), nothing
  read. A body without one (chunked) is counted as it is read and refused as soon as it
  passes the limit.
- ``Content-Encoding: gzip`` is decoded as the body is read, in bounded steps, and the limit
  counts the *decoded* bytes: a bomb is refused after ``limit`` bytes of output, holding no
  more than a read's worth in memory. Any other encoding is 415
  ``unsupported_content_encoding`` (with ``Accept-Encoding: gzip``, RFC 7694).

The refusal itself is raised in the app's first ``before_request`` (or from the read that
passes the limit), so it is rendered in the route's own error shape (the contract's envelope,
ODK Central's JSON or an OpenRosaResponse), and carries ``Connection: close``: the rest of an
unread body is never read from the client.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import LimitedStream

from server.errors import APIError

# endpoint -> the setting that bounds its request body (bytes). Every route that takes a body
# is listed (tests/test_request_bodies.py walks the routes); anything else, a route's GET
# included, falls to BODY_MAX_BYTES.
LIMITS = {
    "auth.Token": "SMALL_BODY_MAX_BYTES",
    "auth.Refresh": "SMALL_BODY_MAX_BYTES",
    "auth.Logout": "SMALL_BODY_MAX_BYTES",
    "auth.OwnPassword": "SMALL_BODY_MAX_BYTES",
    "users.Users": "SMALL_BODY_MAX_BYTES",
    "users.UserAccount": "SMALL_BODY_MAX_BYTES",
    "users.UserPassword": "SMALL_BODY_MAX_BYTES",
    "decisions.Decision": "SMALL_BODY_MAX_BYTES",
    "conflicts.Resolve": "SMALL_BODY_MAX_BYTES",
    "duplicates.Settle": "SMALL_BODY_MAX_BYTES",
    "device_tokens.DeviceTokens": "SMALL_BODY_MAX_BYTES",
    "central.core.create_session": "SMALL_BODY_MAX_BYTES",
    "central.submissions.update_review_state": "SMALL_BODY_MAX_BYTES",
    "central.submissions.create_submission_comment": "SMALL_BODY_MAX_BYTES",
    "central.app_users.create_app_user": "SMALL_BODY_MAX_BYTES",
    "central.datasets.create_entity": "BODY_MAX_BYTES",  # one record's JSON
    "central.datasets.update_entity": "BODY_MAX_BYTES",
    "pages.login": "SMALL_BODY_MAX_BYTES",
    "pages.logout": "SMALL_BODY_MAX_BYTES",
    "pages.decide": "SMALL_BODY_MAX_BYTES",
    "pages.resolve": "SMALL_BODY_MAX_BYTES",
    "pages.own_password": "SMALL_BODY_MAX_BYTES",
    "pages.reset_password": "SMALL_BODY_MAX_BYTES",
    "pages.set_active": "SMALL_BODY_MAX_BYTES",
    "pages.set_role": "SMALL_BODY_MAX_BYTES",
    "pages.record_support_item": "SMALL_BODY_MAX_BYTES",
    "pages.move_support_item": "SMALL_BODY_MAX_BYTES",
    "pages.schedule_payout": "SMALL_BODY_MAX_BYTES",
    "pages.move_payout": "SMALL_BODY_MAX_BYTES",
    "pages.settle": "SMALL_BODY_MAX_BYTES",
    "sync.Push": "PUSH_MAX_BYTES",
    "openrosa.submission": "MAX_CONTENT_LENGTH",  # multipart: the XML and its media
    "central.submissions.create_submission": "MAX_CONTENT_LENGTH",
    "central.submissions.edit_submission": "MAX_CONTENT_LENGTH",
    "central.submissions.upload_attachment": "ATTACHMENT_MAX_BYTES",
    "uploads.create": "SMALL_BODY_MAX_BYTES",  # tus creation: the metadata is in headers
    "uploads.append": "ATTACHMENT_MAX_BYTES",  # a tus PATCH: at most the whole photo at once
}
DEFAULT_LIMIT = "BODY_MAX_BYTES"
ACCEPTED_ENCODINGS = ("gzip", "x-gzip")
READ_CHUNK = 64 * 1024  # compressed bytes read from the client at a time

REFUSAL = "fieldsync.body_refusal"  # environ: the APIError arguments of a refused body
REFUSED = "fieldsync.body_refused"  # environ: the answer must close the connection


def too_large(limit: int) -> APIError:
    return APIError(
        "payload_too_large",
        f"This request's body may be at most {limit} bytes.",
        {"max_bytes": limit},
    )


class BoundedBody(io.RawIOBase):
    """The request body as the app reads it: decoded from gzip when it was sent so, and
    refused (``APIError`` 413) on the read that passes ``limit`` decoded bytes."""

    def __init__(self, source, limit: int, gzipped: bool, environ: dict):
        self.source, self.limit, self.gzipped, self.environ = source, limit, gzipped, environ
        self.produced = 0
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        self.tail = b""  # compressed input the inflater has not consumed yet
        self.received_any = False
        self.finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(buffer) == 0 or self.finished:
            return 0
        # One byte past the limit is enough to know it was passed.
        allowed = self.limit + 1 - self.produced
        data = (
            self.inflate(min(len(buffer), allowed))
            if self.gzipped
            else self.source.read(min(len(buffer), allowed))
        )
        if not data:
            self.finished = True
            return 0
        self.produced += len(data)
        if self.produced > self.limit:
            self.environ[REFUSED] = True
            self.finished = True
            raise too_large(self.limit)
        buffer[: len(data)] = data
        return len(data)

    def inflate(self, wanted: int) -> bytes:
        """Up to ``wanted`` decoded bytes (fewer only at the end of the body)."""
        while True:
            if self.inflater.eof:
                rest = self.inflater.unused_data + self.tail
                self.tail = b""
                if not rest:
                    rest = self.source.read(READ_CHUNK)
                    if not rest:
                        return b""
                if not rest.startswith(b"\x1f\x8b"):
                    raise APIError("bad_request", "The gzip body has data after its end.")
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a further gzip member
                self.tail = rest
            if self.tail:
                compressed, self.tail = self.tail, b""
            else:
                compressed = self.source.read(READ_CHUNK)
                if not compressed:
                    if self.received_any and not self.inflater.eof:
                        raise APIError("bad_request", "The gzip body ends before its end.")
                    return b""
            self.received_any = True
            try:
                out = self.inflater.decompress(compressed, wanted)
            except zlib.error as exc:
                raise APIError("bad_request", "The body is not valid gzip.") from exc
            self.tail = self.inflater.unconsumed_tail
            if out:
                return out


class RequestBodies:
    """WSGI middleware: every request body bounded and decoded (see the module doc)."""

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app, self.wsgi_app = app, wsgi_app

    def limit_for(self, environ: dict) -> int:
        try:
            endpoint, _ = self.app.url_map.bind_to_environ(environ).match()
        except HTTPException:  # no such route (or a redirect): the app answers it unread
            endpoint = None
        return int(self.app.config[LIMITS.get(endpoint, DEFAULT_LIMIT)])

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        limit = self.limit_for(environ)
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        length = content_length(environ)
        if encoding not in ("", "identity", *ACCEPTED_ENCODINGS):
            environ[REFUSAL] = APIError(
                "unsupported_content_encoding",
                f"Content-Encoding {encoding!r} is not accepted; send the body as it is or gzip it.",
                {"content_encoding": encoding, "accepted": ["gzip", "identity"]},
                headers={"Accept-Encoding": "gzip"},
            )
        elif length is not None and length > limit:
            environ[REFUSAL] = too_large(limit)
        elif encoding in ACCEPTED_ENCODINGS:
            source = environ["wsgi.input"]
            if length is not None:  # the server stops at Content-Length only if we do
                source = LimitedStream(source, length)
            environ["wsgi.input"] = BoundedBody(source, limit, True, environ)
            environ["wsgi.input_terminated"] = True  # decoded length unknown: read to the end
            environ.pop("CONTENT_LENGTH", None)
            environ.pop("HTTP_CONTENT_ENCODING", None)
            environ["fieldsync.content_encoding"] = "gzip"
        elif length is None and environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = BoundedBody(environ["wsgi.input"], limit, False, environ)
        if REFUSAL in environ:
            environ[REFUSED] = True

        def start(status: str, headers: list, exc_info=None):
            if environ.get(REFUSED):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def content_length(environ: dict) -> int | None:
    value = environ.get("CONTENT_LENGTH", "").strip()
    if not value:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return None


def refuse_refused_body() -> None:
    """The app's first ``before_request``: a body refused by the middleware, in the route's shape."""
    refusal = request.environ.get(REFUSAL)
    if refusal is not None:
        raise refusal


def init_app(app: Flask) -> None:
    """Wrap the app's WSGI callable; call before any other ``before_request`` is registered."""
    app.wsgi_app = RequestBodies(app, app.wsgi_app)
    app.before_request(refuse_refused_body)
