"""Wire shapes of ``GET /api/v1/delays``: the query and the late items with their summary."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from schemas.fields import Day
from sync.delays import KINDS


class DelayQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    as_of = Day(required=True, metadata={"description": "The day asked about (YYYY-MM-DD)."})
    kind = fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        load_default=None,
        metadata={"description": "Only these kinds (repeat the parameter for several)."},
    )
    unit = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Only this district or commune (inside your scope, else 404)."},
    )
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))
    limit = fields.Integer(
        load_default=1000,
        validate=validate.Range(min=1, max=10000),
        metadata={"description": "Items per page (JSON only; the files hold every item)."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=500),
        metadata={"description": "The `cursor` of the previous page, to read the next."},
    )


class DelayItemSchema(Schema):
    kind = fields.String(required=True)
    entity = fields.String(required=True)
    id = fields.String(required=True)
    household_id = fields.String(allow_none=True)
    district_code = fields.String(allow_none=True)
    commune_code = fields.String(allow_none=True)
    due_date = fields.Date(required=True)
    days_overdue = fields.Integer(required=True)
    status = fields.String(required=True)
    amount_vnd = fields.Integer(allow_none=True, metadata={"description": "Payouts only."})


class WorstDelaySchema(Schema):
    kind = fields.String()
    entity = fields.String()
    id = fields.String()
    due_date = fields.Date()
    days_overdue = fields.Integer()


class DistrictDelaysSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    total = fields.Integer(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue_payout_vnd = fields.Integer(required=True)
    worst = fields.Nested(WorstDelaySchema, allow_none=True, required=True)


class DelaySummarySchema(Schema):
    total = fields.Integer(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    overdue_payout_vnd = fields.Integer(required=True)
    worst = fields.Nested(WorstDelaySchema, allow_none=True, required=True)
    districts = fields.List(fields.Nested(DistrictDelaysSchema), required=True)


class ThresholdsSchema(Schema):
    approval_overdue_days = fields.Integer(required=True)
    collaborator_silent_days = fields.Integer(required=True)


class DelayReportSchema(Schema):
    as_of = fields.Date(required=True)
    thresholds = fields.Nested(ThresholdsSchema, required=True)
    items = fields.List(fields.Nested(DelayItemSchema), required=True)
    cursor = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The next page's cursor; null on the last page."},
    )
    summary = fields.Nested(DelaySummarySchema, required=True)
