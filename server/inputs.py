"""How the server reads what clients send: strict JSON bodies and clean query strings.

Python's ``json`` is more lenient than JSON (RFC 8259) and less careful than a server must be:
it parses ``NaN`` and ``Infinity`` (which PostgreSQL's JSONB then refuses, mid-transaction),
it keeps NUL characters (which no PostgreSQL text or JSONB value can hold), and a body of
100,000 nested brackets exhausts the interpreter's recursion limit. Each of these would reach
the database or crash a worker and come back as a 500; here they are a 400 in the envelope
before any view runs. NUL is refused in URLs, form fields and Basic credentials too. No field
of the contract nests deeper than a handful of levels.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from server.errors import APIError

MAX_DEPTH = 32


class UnacceptableJSON(ValueError):
    """A body that parses as Python's JSON but not as the contract's."""


def _refuse_constant(name: str) -> Any:
    raise UnacceptableJSON(f"{name} is not a JSON number")


def check_json_value(value: Any, may_hold_nul: bool = True) -> None:
    """Raise UnacceptableJSON for nesting deeper than MAX_DEPTH or a NUL in any string or key.

    With ``may_hold_nul`` false (the text parsed holds no ``\\u0000`` escape, the only way
    a JSON text can carry a NUL) only the containers are walked, not every string.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise UnacceptableJSON("text must not contain the NUL character (\\u0000)")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise UnacceptableJSON(f"JSON nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend(
                (child, depth + 1) for child in children if may_hold_nul or isinstance(child, dict | list)
            )


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing strictly (see the module doc); output is unchanged."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as exc:
            raise UnacceptableJSON(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
        # JSON strings cannot hold a raw NUL (json refuses control characters), only the
        # escape; without it in the text, no value needs looking at for NUL. Bytes with a
        # zero byte may be UTF-16/32 (json detects those), where the escape looks different.
        text = s if isinstance(s, bytes | bytearray) else s.encode("utf-8", "surrogatepass")
        check_json_value(value, may_hold_nul=b"\\u0000" in text or b"\x00" in text)
        return value


class JSONRequest(Request):
    """A request whose unreadable JSON body is a 400 saying why, in the envelope."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            return super().on_json_loading_failed(e)  # not JSON at all: Flask's 415
        if isinstance(e, UnacceptableJSON):
            reason = str(e)
        elif isinstance(e, UnicodeDecodeError):
            reason = "it is not UTF-8"
        else:
            reason = "the body is not valid JSON"
        raise APIError("bad_request", f"The request body was refused: {reason}.")


class StrictArgumentsParser(FlaskParser):
    """flask-smorest's argument parser (webargs), reading bodies with the app's strict JSON.

    webargs parses bodies with the standard library itself, bypassing Flask's provider, so
    without this every ``@blp.arguments`` view would take NaN, NUL and unbounded nesting.
    Query strings are held to their schema too: webargs would drop unknown query parameters
    silently, and the contract says unknown fields are errors, not ignored.
    """

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        # Flask's own parse, cached on the request: a body read earlier (the push size
        # check) is not parsed twice, and failures become JSONRequest's 400 envelope.
        return req.get_json(cache=True)


# flask-smorest's documented hook, set on import: ``@blp.arguments`` binds the parser when a
# view module is imported, and every view module imports the ``server`` package (which imports
# this module) first, so no view is ever decorated with the lenient default.
Blueprint.ARGUMENTS_PARSER = StrictArgumentsParser()


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_characters() -> None:
    """A NUL in the URL, a form field or Basic credentials reaches SQL as a parameter
    PostgreSQL cannot hold (a 500 there): refuse it first. JSON bodies are checked as parsed."""
    values = [request.path, *(k + v for k, v in request.args.items(multi=True))]
    if request.mimetype in FORM_TYPES:
        values.extend(k + v for k, v in request.form.items(multi=True))
    credentials = request.authorization
    if credentials is not None and credentials.type == "basic":
        values.extend((credentials.username or "", credentials.password or ""))
    if any("\x00" in value for value in values):
        raise APIError("bad_request", "The request must not contain the NUL character (%00).")


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    app.json.ensure_ascii = False  # Vietnamese text travels as UTF-8, not \u escapes
    app.json.sort_keys = False
    app.request_class = JSONRequest
    app.before_request(refuse_nul_characters)
