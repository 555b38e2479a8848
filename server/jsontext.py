"""JSON written fast (orjson), exactly as the standard library would accept it otherwise.

orjson writes the JSON columns and the sync answers (push, pull): it is several times faster
than ``json`` and can splice text already encoded (``orjson.Fragment``). It refuses what
``json`` takes, though - integers beyond 64 bits, which a hostile phone may send inside a
change that is then kept, refused, for the record - so those few values fall back to
``json``. Reading stays with ``json``: orjson would read such an integer back as a float.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value, default=default)
    except TypeError:  # e.g. an integer outside 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default).encode()


def dumps_text(value: Any) -> str:
    """``value`` as JSON text (the serializer of the JSON columns)."""
    return dumps(value).decode()
