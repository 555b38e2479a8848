"""Possible duplicates as listed and settled through the API (``sync.duplicates``)."""

from marshmallow import RAISE, Schema, fields, validate

from schemas.entities import DEFAULT_LIMIT, MAX_LIMIT
from schemas.fields import UUIDText
from schemas.sync import PulledRecordSchema
from sync.duplicates import DECISIONS, OPEN, SETTLED


class DuplicateQuery(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(load_default=None, validate=validate.OneOf((OPEN, SETTLED)))
    unit = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Only cases of this district or commune (inside your scope, else 404)."},
    )
    cursor = fields.String(load_default=None, metadata={"description": "The previous page's cursor."})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))


class DuplicateOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "duplicate_suspected"})
    status = fields.String(metadata={"description": "open or settled"})
    households = fields.List(fields.String(), metadata={"description": "the two household ids, in id order"})
    reasons = fields.List(fields.String(), metadata={"description": "same_code, same_head_name, same_phone"})
    commune_code = fields.String()
    district_code = fields.String()
    opened_at = fields.String()
    opened_by = fields.String()
    decision = fields.String(allow_none=True)
    keep = fields.String(allow_none=True)
    settled_by = fields.String(allow_none=True)
    settled_at = fields.String(allow_none=True)


class DuplicateList(Schema):
    items = fields.List(fields.Nested(DuplicateOut))
    cursor = fields.String(allow_none=True)


class SettleRequest(Schema):
    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    keep = UUIDText(load_default=None, allow_none=True, metadata={"description": "required with same"})


class SettleResponse(Schema):
    duplicate = fields.Nested(DuplicateOut)
    moved = fields.List(fields.Nested(PulledRecordSchema))
