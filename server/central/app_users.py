"""ODK Central's app users, for pyodk: our device keys (``/api/v1/device-tokens``) by Central's name.

``GET /v1/projects/1/app-users`` lists the keys (an admin's view, like the JSON API's); the
token itself is only ever shown once, in the answer to ``POST``, since only its hash is kept.
``POST {"displayName"}`` issues a key for the user named by ``username`` (ours, beside
Central's fields) or, failing that, by ``displayName``; the answer carries Central's ``token``
plus the Collect settings and QR payload the JSON API gives.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from server.auth.current import current_user
from server.auth.odk import hash_device_key, issue_device_key
from server.central.views import require_project
from server.clock import utcnow
from server.device_tokens.views import collect_settings, encode_qr_payload
from server.errors import APIError
from server.extensions import db
from server.store import accounts as store
from server.submissions.shapes import format_time

LABEL_MAX = 200

blp = Blueprint("app_users", __name__)


def require_admin() -> None:
    if current_user().role != "admin":
        raise APIError("forbidden", "Only an admin manages app users (device keys).")


def render_app_user(row, username: str, token: str | None = None) -> dict[str, Any]:
    return {
        "projectId": 1,
        "id": row.id,
        "type": "field_key",
        "displayName": row.label or username,
        "username": username,
        "token": token,
        "createdAt": format_time(row.created_at),
        "updatedAt": None,
        "deletedAt": format_time(row.revoked_at),
    }


@blp.route("/projects/<int:project_id>/app-users", methods=["GET"])
def list_app_users(project_id: int):
    require_project(project_id)
    require_admin()
    return jsonify(
        [
            render_app_user(row, username)
            for row, username in store.list_device_tokens()
            if row.revoked_at is None
        ]
    )


@blp.route("/projects/<int:project_id>/app-users", methods=["POST"])
def create_app_user(project_id: int):
    require_project(project_id)
    require_admin()
    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("displayName"), str)
        or not body["displayName"].strip()
    ):
        raise APIError("bad_request", 'Send JSON {"displayName": <name>, "username": <whose phone>}.')
    if set(body) - {"displayName", "username"}:
        raise APIError(
            "bad_request", "Unknown fields: " + ", ".join(sorted(set(body) - {"displayName", "username"}))
        )
    label = body["displayName"].strip()[:LABEL_MAX]
    username = body.get("username") if isinstance(body.get("username"), str) else label
    user = store.get_user_by_username(username)
    if user is None or not user.active:
        raise APIError("validation_error", None, {"username": ["No active user has this username."]})
    token = issue_device_key()
    row = store.create_device_token(hash_device_key(token), user.id, label, utcnow())
    db.session.commit()
    server_url = f"{request.url_root.rstrip('/')}/v1/key/{token}/projects/1"
    settings = collect_settings(server_url)
    return jsonify(
        {
            **render_app_user(row, user.username, token),
            "serverUrl": server_url,
            "collectSettings": settings,
            "qrPayload": encode_qr_payload(settings),
        }
    )
