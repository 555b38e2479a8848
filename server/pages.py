"""Opaque keyset cursors for paged lists (entity reads, the audit trail).

A cursor carries the last key of the page it ends, signed with the app's secret and salted
with the list's name: a client can neither forge a position nor carry a cursor from one list
to another. A bad cursor is the client's mistake (422), never a server error.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from server.errors import APIError


def serializer(list_name: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"page:{list_name}")


def encode_cursor(list_name: str, last_key: Any) -> str:
    """The cursor of the page after the one ending at ``last_key``."""
    return serializer(list_name).dumps(last_key)


def decode_cursor(list_name: str, cursor: str | None, key_type: type) -> Any:
    """The last key a cursor of ``list_name`` names (None without a cursor); 422 if not ours."""
    if cursor is None:
        return None
    try:
        key = serializer(list_name).loads(cursor)
    except (BadSignature, ValueError, TypeError):
        key = None
    if not isinstance(key, key_type) or isinstance(key, bool):
        raise APIError("validation_error", "The cursor is not valid.", {"cursor": ["Not a valid cursor."]})
    return key
