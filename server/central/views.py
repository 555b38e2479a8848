"""ODK Central's REST API for pyodk: sessions, the current user, the project and its forms.

Routes at the root (``/v1/...``), Central's layout, one project with id 1. Every route but
``POST /v1/sessions`` needs a Bearer token (a session token from that route, or a JSON API
access token) or HTTP Basic. Errors come in Central's shape ``{"code": 404.1, "message"}``
(``server/errors.py``). The submission routes are in ``server/central/submissions.py``.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from server.auth.current import current_user
from server.auth.odk import authenticate_odk, log_in
from server.auth.tokens import issue_session_token
from server.clock import programme_zone, utcnow
from server.errors import APIError
from server.extensions import db
from server.models import User
from server.odk.forms import FormDefinition, list_forms
from server.store import accounts as account_store
from server.submissions.intake import find_form
from server.submissions.shapes import format_time

blp = Blueprint("core", __name__)
PROJECT_ID = 1
OPEN_ENDPOINTS = frozenset({"central.core.create_session"})


def authenticate():
    """Every Central route but logging in needs a caller (run before each of them)."""
    if request.endpoint in OPEN_ENDPOINTS:
        return
    authenticate_odk()


@blp.route("/sessions", methods=["POST"])
def create_session():
    """Log in: ``{"email": <username>, "password"}`` → ``{"token", "createdAt", "expiresAt"}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("email", "password")):
        raise APIError(
            "bad_request",
            'Send JSON {"email": <username>, "password": <password>}.',
            {"email": ["is required"], "password": ["is required"]},
        )
    user = log_in(body["email"], body["password"])
    now = utcnow()
    token, expires = issue_session_token(user, now)
    db.session.commit()
    return jsonify({"token": token, "createdAt": format_time(now), "expiresAt": format_time(expires)})


@blp.route("/users/current", methods=["GET"])
def get_current_user():
    """The logged-in user, as Central describes one (``email`` is the username here)."""
    return jsonify(render_user(current_user()))


@blp.route("/projects", methods=["GET"])
def list_projects():
    return jsonify([render_project()])


@blp.route("/projects/<int:project_id>", methods=["GET"])
def get_project(project_id: int):
    require_project(project_id)
    return jsonify(render_project())


@blp.route("/projects/<int:project_id>/forms", methods=["GET"])
def list_project_forms(project_id: int):
    require_project(project_id)
    return jsonify([render_form(form) for form in list_forms()])


@blp.route("/projects/<int:project_id>/forms/<form_id>", methods=["GET"])
def get_form(project_id: int, form_id: str):
    require_project(project_id)
    return jsonify(render_form(find_form(form_id)))


def require_project(project_id: int) -> None:
    if project_id != PROJECT_ID:
        raise APIError("not_found", f"There is one project here, with id {PROJECT_ID}.")


def render_user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "type": "user",
        "displayName": user.display_name or user.username,
        "email": user.username,
        "role": user.role,
        "unit": user.unit_code,
        "createdAt": format_time(user.created_at),
        "updatedAt": None,
        "deletedAt": None,
    }


def project_created_at() -> datetime:
    # The programme starts on this server with its first account.
    return account_store.get_first_account_time() or utcnow()


def render_project() -> dict[str, Any]:
    return {
        "id": PROJECT_ID,
        "name": current_app.config["ODK_PROJECT_NAME"],
        "description": None,
        "archived": False,
        "keyId": None,
        "createdAt": format_time(project_created_at()),
        "updatedAt": None,
        "deletedAt": None,
    }


def render_form(form: FormDefinition) -> dict[str, Any]:
    """A form as Central lists it; it was published on the day its version names."""
    published = format_time(version_day(form.version) or project_created_at())
    return {
        "projectId": PROJECT_ID,
        "xmlFormId": form.form_id,
        "name": form.title,
        "version": form.version,
        "hash": form.hash.removeprefix("md5:"),
        "state": "open",
        "enketoId": None,
        "enketoOnceId": None,
        "keyId": None,
        "createdAt": published,
        "updatedAt": None,
        "publishedAt": published,
    }


def version_day(version: str) -> datetime | None:
    """The start of the day a ``yyyymmddnn`` version names, in the programme's time zone."""
    try:
        day = datetime.strptime(version[:8], "%Y%m%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time(0), tzinfo=programme_zone())
