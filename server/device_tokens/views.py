"""``/api/v1/device-tokens``: an admin issues, lists and revokes ODK Collect device keys.

A device key works like an ODK Central app user's: the phone's server URL holds it
(``/v1/key/<token>/projects/1``) and every OpenRosa request made through it acts as the
user the key was issued for. The token is shown once, in the answer to ``POST``, with the
settings a Collect QR code carries; only its hash is kept.
"""

from __future__ import annotations

import base64
import json
import zlib

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.device_tokens import DeviceTokenCreated, DeviceTokenList, DeviceTokenRequest
from server.auth.current import require_roles
from server.auth.odk import hash_device_key, issue_device_key
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.store import accounts as store
from sync.lifecycles import MANAGE_DEVICES, roles_for

blp = Blueprint(
    "device_tokens", __name__, url_prefix="/api/v1/device-tokens", description="ODK Collect device keys"
)


def collect_settings(server_url: str) -> dict:
    """The settings JSON ODK Collect reads from a QR code, as ODK Central builds it for an
    app user: the server URL with the key, forms kept exactly as the server lists them,
    finished forms sent on any network. Collect requires the ``admin`` section."""
    return {
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": current_app.config["ODK_PROJECT_NAME"]},
    }


def encode_qr_payload(settings: dict) -> str:
    """What a Collect settings QR code holds: base64 of the zlib-compressed JSON."""
    raw = json.dumps(settings, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def describe(row, username: str) -> dict:
    return {
        "id": row.id,
        "username": username,
        "label": row.label,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


@blp.route("")
class DeviceTokens(MethodView):
    @blp.arguments(DeviceTokenRequest)
    @blp.response(201, DeviceTokenCreated)
    @blp.alt_response(422, description="validation_error: unknown username")
    @require_roles(*roles_for(MANAGE_DEVICES))
    def post(self, body):
        """Issue a device key for a user: the token, the URL for Collect and the QR settings."""
        user = store.get_user_by_username(body["username"])
        if user is None or not user.active:
            raise APIError("validation_error", None, {"username": ["No active user has this username."]})
        token = issue_device_key()
        row = store.create_device_token(hash_device_key(token), user.id, body["label"], utcnow())
        db.session.commit()
        server_url = f"{request.url_root.rstrip('/')}/v1/key/{token}/projects/1"
        settings = collect_settings(server_url)
        return {
            **describe(row, user.username),
            "token": token,
            "server_url": server_url,
            "collect_settings": settings,
            "qr_payload": encode_qr_payload(settings),
        }

    @blp.response(200, DeviceTokenList)
    @require_roles(*roles_for(MANAGE_DEVICES))
    def get(self):
        """Every device key issued, newest first (never the token itself)."""
        return {"items": [describe(row, username) for row, username in store.list_device_tokens()]}


@blp.route("/<int(max=2147483647):token_id>")  # larger names no row; SQL would overflow
class DeviceToken(MethodView):
    @blp.response(204)
    @require_roles(*roles_for(MANAGE_DEVICES))
    def delete(self, token_id):
        """Revoke a device key: the phones set up with it get 403 from then on."""
        if store.get_device_token(token_id) is None:
            raise APIError("not_found")
        store.revoke_device_token(token_id, utcnow())
        db.session.commit()
