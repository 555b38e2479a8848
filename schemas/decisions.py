"""A commune official's decision on a registration."""

from marshmallow import RAISE, Schema, fields, validate


class DecisionRequest(Schema):
    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject", "return")))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
