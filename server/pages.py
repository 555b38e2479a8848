"""Opaque keyset cursors for paged lists (the sync pull, entity reads, the audit trail, delays).

A cursor carries the last key of the page it ends, signed with the app's secret and salted
with the list's name: a client can neither forge a position nor carry a cursor from one list
to another. A cursor bound to an ``owner`` (the pull's, bound to its user) is refused to
anyone else. A bad cursor is the client's mistake (422), never a server error.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from server.errors import APIError

# Salts kept from before this module served every list: phones hold pull cursors made with it.
SALTS = {"sync-pull": "sync-pull-cursor"}


def serializer(list_name: str) -> URLSafeSerializer:
    salt = SALTS.get(list_name, f"page:{list_name}")
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def encode_cursor(list_name: str, last_key: Any, owner: int | None = None) -> str:
    """The cursor of the page after the one ending at ``last_key`` (only ``owner``'s, if given)."""
    return serializer(list_name).dumps(last_key if owner is None else [owner, last_key])


def decode_cursor(list_name: str, cursor: str | None, key_type: type, owner: int | None = None) -> Any:
    """The last key a cursor of ``list_name`` names (None without a cursor); 422 if not ours,
    or if it is bound to another owner than ``owner``."""
    if cursor is None:
        return None
    try:
        key = serializer(list_name).loads(cursor)
    except (BadSignature, ValueError, TypeError):
        key = None
    if owner is not None:
        bound = isinstance(key, list) and len(key) == 2
        if bound and key[0] != owner:
            message = "This cursor belongs to another user."
            raise APIError("validation_error", message, {"cursor": ["Not a valid cursor."]})
        key = key[1] if bound else None
    if not isinstance(key, key_type) or isinstance(key, bool):
        raise APIError("validation_error", "The cursor is not valid.", {"cursor": ["Not a valid cursor."]})
    return key
