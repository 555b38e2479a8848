"""ODK Central's REST API, the subset pyodk uses, and its error shape.

``views``: sessions, users, projects, forms; ``submissions``: submissions and attachments;
``datasets``: entity lists and their entities; ``app_users``: app users; ``lists``: each
user's copy of the lists. Each module has its own blueprint; ``init_app`` nests them in one
``central`` blueprint at ``/v1``, which authenticates every request.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from server.errors import APIError, register_error_shape

# ODK Central's problem codes are <status>.<n>; the ones its clients know by number.
CENTRAL_CODES = {
    "unauthorized": 401.2,
    "invalid_credentials": 401.2,
    "instance_conflict": 409.3,
    "unknown_form_version": 400.8,  # Central's unexpectedValue, for the form version
}


def render_central_error(err: APIError) -> Response:
    """Central's ``{"code": 404.1, "message", "details"}``, our snake_case code in ``details.error``."""
    number = CENTRAL_CODES.get(err.code, float(f"{err.status}.1"))
    return jsonify({"code": number, "message": err.message, "details": {"error": err.code, **err.details}})


def init_app(app: Flask) -> None:
    """Register Central's routes; their errors, and any other path under /v1/, in Central's shape."""
    from server.central import app_users, datasets, submissions, views

    central = Blueprint("central", __name__, url_prefix="/v1")
    central.before_request(views.authenticate)
    for module in (views, submissions, datasets, app_users):
        central.register_blueprint(module.blp)
    app.register_blueprint(central)
    register_error_shape(app, "/v1/", render_central_error, blueprint=central.name)
