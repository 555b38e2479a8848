"""Wire shapes of ``GET /api/v1/audit``: the trail's query and its entries."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from schemas.entities import DEFAULT_LIMIT, MAX_LIMIT
from schemas.fields import Day, TimestampText
from sync.records import ENTITIES

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Since(fields.Field):
    """A timestamp with an offset, or a day ``YYYY-MM-DD`` (from the start of that programme day).

    Loads as an aware ``datetime`` or a ``date``; the view turns a day into its first instant.
    """

    default_error_messages = {"invalid": "Not a day (YYYY-MM-DD) or an ISO-8601 timestamp with an offset."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date | datetime:
        if isinstance(value, str) and _DAY.match(value):
            return Day()._deserialize(value, attr, data, **kwargs)
        try:
            return datetime.fromisoformat(TimestampText()._deserialize(value, attr, data, **kwargs))
        except Exception as exc:  # any refusal of the inner field is this field's refusal
            raise self.make_error("invalid") from exc


class AuditQuery(Schema):
    class Meta:
        unknown = RAISE

    entity = fields.String(load_default=None, validate=validate.OneOf((*ENTITIES, "users")))
    id = fields.String(load_default=None, validate=validate.Length(min=1, max=120))
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    since = Since(load_default=None, metadata={"description": "Entries at or after this time (or day)."})
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "csv")),
        metadata={"description": "csv: every entry of the filter as a file, the chain head last."},
    )


class AuditEntryOut(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor = fields.String(required=True, metadata={"description": "The username that made the change."})
    device_id = fields.String(allow_none=True)
    batch_id = fields.String(allow_none=True)
    change_id = fields.String(allow_none=True)
    client_time = fields.String(allow_none=True, metadata={"description": "The device's clock, as sent."})
    action = fields.String(
        required=True,
        metadata={
            "description": "create, update, delete, decide, resolve, merge; for users also set_role, "
            "deactivate, reactivate, change_password, reset_password"
        },
    )
    entity = fields.String(required=True)
    record_id = fields.String(required=True)
    version = fields.Integer(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    commune_code = fields.String(allow_none=True)
    district_code = fields.String(allow_none=True)
    made_after = fields.DateTime(
        allow_none=True, metadata={"description": "The device's previous sync: made after this."}
    )
    made_before = fields.DateTime(allow_none=True, metadata={"description": "Its arrival: made before this."})
    clock_suspect = fields.Boolean(
        allow_none=True, metadata={"description": "client_time lies outside made_after..made_before."}
    )
    chain_position = fields.Integer(allow_none=True, metadata={"description": "Its place in the hash chain."})
    prev_hash = fields.String(allow_none=True, metadata={"description": "The entry before it's entry_hash."})
    entry_hash = fields.String(allow_none=True, metadata={"description": "SHA-256 of prev_hash and content."})


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntryOut), required=True)
    cursor = fields.String(required=True, allow_none=True)
