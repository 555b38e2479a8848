"""The reports' query and their JSON answers (exit registrations, payouts)."""

from marshmallow import Schema, fields, validate

FORMATS = ("json", "csv", "xlsx")


class ReportQuery(Schema):
    year = fields.Integer(
        required=True,
        validate=validate.Range(min=2000, max=2100),
        metadata={"description": "registration year (exit registrations) or recognized_year (payouts)"},
    )
    as_of = fields.Date(
        metadata={"description": "count as of the end of this day in the programme time zone"}
    )
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))


class UnitRef(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class PoorFigures(Schema):
    households = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    quota = fields.Integer(allow_none=True, required=True)
    pct_of_quota = fields.Float(allow_none=True, required=True)
    quota_status = fields.String(
        required=True, validate=validate.OneOf(("exceeded", "met", "below", "no_quota"))
    )


class NearPoorFigures(Schema):
    households = fields.Integer(required=True)
    persons = fields.Integer(required=True)


class ExitDistrict(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    poor = fields.Nested(PoorFigures, required=True)
    near_poor = fields.Nested(NearPoorFigures, required=True)


class PoorTotals(Schema):
    households = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    quota = fields.Integer(allow_none=True, required=True)
    pct_of_quota = fields.Float(allow_none=True, required=True)
    target = fields.Integer(allow_none=True, required=True)
    pct_of_target = fields.Float(allow_none=True, required=True)


class NearPoorTotals(Schema):
    households = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    target = fields.Integer(allow_none=True, required=True)
    pct_of_target = fields.Float(allow_none=True, required=True)


class ExitTotals(Schema):
    poor = fields.Nested(PoorTotals, required=True)
    near_poor = fields.Nested(NearPoorTotals, required=True)


class ExitRegistrationReport(Schema):
    year = fields.Integer(required=True)
    as_of = fields.Date(allow_none=True, metadata={"description": "null: every approval so far"})
    province = fields.Nested(UnitRef, allow_none=True, required=True)
    districts = fields.List(fields.Nested(ExitDistrict), required=True)
    totals = fields.Nested(ExitTotals, required=True)


class CountAndAmount(Schema):
    count = fields.Integer(required=True)
    vnd = fields.Integer(required=True)


class PayoutFigures(Schema):
    scheduled = fields.Nested(CountAndAmount, required=True, metadata={"description": "not cancelled"})
    disbursed = fields.Nested(
        CountAndAmount, required=True, metadata={"description": "disbursed or confirmed"}
    )
    confirmed = fields.Nested(CountAndAmount, required=True)
    overdue = fields.Nested(
        CountAndAmount, required=True, metadata={"description": "payout_overdue on as_of"}
    )
    median_days_late = fields.Float(allow_none=True, required=True)
    worst_days_late = fields.Integer(allow_none=True, required=True)


class PayoutDistrict(PayoutFigures, UnitRef):
    """A district's row: its code and name first, then its figures."""


class PayoutReport(Schema):
    year = fields.Integer(required=True, metadata={"description": "recognized_year"})
    as_of = fields.Date(required=True)
    province = fields.Nested(UnitRef, allow_none=True, required=True)
    districts = fields.List(fields.Nested(PayoutDistrict), required=True)
    totals = fields.Nested(PayoutFigures, required=True)
