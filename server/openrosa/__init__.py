"""OpenRosa routes for ODK Collect and Enketo (``views``), and their error shape."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from server.errors import APIError, register_error_shape
from server.odk.openrosa import XML_CONTENT_TYPE, build_openrosa_error, build_openrosa_headers

BASIC_CHALLENGE = 'Basic realm="FieldSync", charset="UTF-8"'
DEVICE_KEY_PREFIX = "/v1/key/"


def render_openrosa_error(err: APIError) -> Response:
    """An ``<OpenRosaResponse>`` whose message Collect shows, with the OpenRosa headers; a Basic
    challenge on 401 so Collect asks for a password (not under a device key: no password helps)."""
    resp = Response(build_openrosa_error(err.message), content_type=XML_CONTENT_TYPE)
    resp.headers.update(build_openrosa_headers(current_app.config["MAX_CONTENT_LENGTH"]))
    if err.status == 401 and not request.path.startswith(DEVICE_KEY_PREFIX):
        resp.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return resp


def init_app(app: Flask) -> None:
    """Register the OpenRosa routes; their errors, and everything under a device key, in XML."""
    from server.openrosa.views import blp

    app.register_blueprint(blp)
    register_error_shape(app, DEVICE_KEY_PREFIX, render_openrosa_error, blueprint=blp.name)
