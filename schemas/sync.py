"""Wire shapes of `POST /api/v1/sync/push` and `GET /api/v1/sync/pull`.

These schemas check the envelope only. Each change's `data` is checked per change by the engine
(through `schemas.records.validate_record`), because one bad record must be `rejected` on its
own rather than fail the whole batch with a 422.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import StrictInteger, TimestampText, UUIDText
from schemas.receipts import ReceiptSchema
from sync.pull import MAX_LIMIT as MAX_PULL_LIMIT
from sync.records import DELETE, ENTITIES, OPS

MAX_CHANGES = 500
RESULT_STATUSES = ("applied", "merged", "conflict", "rejected", "duplicate")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ChangeSchema(_Strict):
    change_id = UUIDText(required=True)
    entity = fields.String(required=True, validate=validate.OneOf(ENTITIES))
    id = UUIDText(required=True)
    op = fields.String(required=True, validate=validate.OneOf(OPS))
    # Bounded by the version column (a 32-bit integer): a larger number names no version and
    # must not reach SQL, where it overflows instead of simply matching nothing.
    base_version = StrictInteger(
        required=True, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1)
    )
    # Keys of a JSON object are always strings; each field is checked by the engine's
    # per-entity schema, so the envelope only needs an object here (no per-key pass).
    data = fields.Dict(required=True)
    # Kept for the audit only; a phone with a wrong clock must not be refused for it.
    client_time = TimestampText(load_default=None, allow_none=True)

    @validates_schema
    def _check_delete(self, change: dict[str, Any], **kwargs: Any) -> None:
        if change["op"] == DELETE and change["data"]:
            raise ValidationError("A delete carries empty data.", "data")


class PushRequestSchema(_Strict):
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    batch_id = UUIDText(required=True)
    changes = fields.List(
        fields.Nested(ChangeSchema),
        required=True,
        validate=validate.Length(max=MAX_CHANGES, error="At most {max} changes per batch."),
    )


class ChangeErrorSchema(Schema):
    """Why a change was rejected: the same code/message/details triple as an error envelope."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ChangeResultSchema(Schema):
    change_id = fields.String(required=True)
    entity = fields.String(required=True)
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RESULT_STATUSES))
    version = fields.Integer(allow_none=True, required=True)
    conflict_id = fields.String(allow_none=True, required=True)
    errors = fields.Nested(ChangeErrorSchema, allow_none=True, required=True)


class PushResponseSchema(Schema):
    batch_id = fields.String(required=True)
    results = fields.List(fields.Nested(ChangeResultSchema), required=True)
    receipt = fields.Nested(
        ReceiptSchema,
        metadata={"description": "The server's Ed25519 signature over batch_id and results."},
    )


class PullQuerySchema(_Strict):
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=MAX_PULL_LIMIT))


class PulledRecordSchema(Schema):
    entity = fields.String(required=True)
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    deleted = fields.Boolean(required=True)
    data = fields.Dict(required=True)


class PullResponseSchema(Schema):
    changes = fields.List(fields.Nested(PulledRecordSchema), required=True)
    cursor = fields.String(required=True)
    more = fields.Boolean(required=True)
    remaining = fields.Integer(
        required=True, metadata={"description": "records still to pull after this page (0 on the last)"}
    )
