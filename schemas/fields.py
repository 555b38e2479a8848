"""Strict JSON field types shared by the wire schemas.

marshmallow's stock fields are lenient in ways a sync contract cannot afford: `Integer` takes
`"5"` and `True`, `Boolean` takes `"yes"`, `Date` (via Python 3.11's `fromisoformat`) takes
`20200501`. A phone that sends the wrong type must hear about it, not have it coerced, so these
fields accept exactly the JSON type the contract names and hand back JSON-ready values (dates
and timestamps stay canonical strings, UUIDs canonical lower-case text) that the engine can
store, compare and send back unchanged.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from marshmallow import fields

_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class StrictInteger(fields.Integer):
    """A JSON integer: no strings, no floats (not even 3.0), no booleans."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(fields.Float):
    """A JSON number (integer or decimal), never a string or a boolean; NaN and infinities refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Field):
    """A JSON `true` or `false`; `"yes"`, `1` and `"true"` are refused."""

    default_error_messages = {"invalid": "Not a valid boolean."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class DateText(fields.Field):
    """A real calendar day written `YYYY-MM-DD` (2020-02-30 is refused); loads as that text."""

    default_error_messages = {"invalid": "Not a valid date (YYYY-MM-DD)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not _DATE_PATTERN.match(value):
            raise self.make_error("invalid")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise self.make_error("invalid") from exc


class TimestampText(fields.Field):
    """An ISO-8601 timestamp with a UTC offset; loads as its canonical `isoformat()` text.

    Canonical text means a timestamp the server wrote, sent back by a phone, compares equal to
    the stored one, so a pulled record pushed back unchanged is not a change.
    """

    default_error_messages = {
        "invalid": "Not a valid ISO-8601 timestamp.",
        "naive": "Timestamp must carry a UTC offset.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value[:4].isdigit() or len(value) < 16:
            raise self.make_error("invalid")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise self.make_error("invalid") from exc
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise self.make_error("naive")
        return moment.isoformat()


class UUIDText(fields.Field):
    """A UUID in any standard spelling; loads as lower-case hyphenated text.

    IDs are chosen offline by devices; canonical text keeps one record from becoming two
    because one phone wrote its IDs in capitals.
    """

    default_error_messages = {"invalid": "Not a valid UUID."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or len(value) not in (32, 36, 38, 45):
            raise self.make_error("invalid")
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise self.make_error("invalid") from exc


class Day(DateText):
    """A query-string day ``YYYY-MM-DD`` (2020-02-30 is refused), loaded as a ``date``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        return date.fromisoformat(super()._deserialize(value, attr, data, **kwargs))

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()
