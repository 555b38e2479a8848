"""Conflicts as listed and resolved through the API."""

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.sync import PulledRecordSchema

RESOLUTIONS = ("keep_server", "take_device", "custom")


class ConflictQuery(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(("open", "resolved")))
    entity = fields.String(
        validate=validate.OneOf(("households", "registrations", "support_items", "payouts"))
    )
    unit = fields.String(validate=validate.Length(min=1, max=16))


class ConflictOut(Schema):
    id = fields.String()
    entity = fields.String()
    record_id = fields.String()
    base_version = fields.Integer(allow_none=True)
    server_version = fields.Integer()
    fields_ = fields.Dict(
        data_key="fields", attribute="fields", metadata={"description": "field -> {base, server, device}"}
    )
    device_id = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    created_at = fields.String()
    status = fields.String()
    resolution = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    resolved_version = fields.Integer(allow_none=True)
    record = fields.Nested(PulledRecordSchema, allow_none=True)


class ConflictList(Schema):
    items = fields.List(fields.Nested(ConflictOut))


class ResolveRequest(Schema):
    class Meta:
        unknown = RAISE

    resolution = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    data = fields.Dict(keys=fields.String())

    @validates_schema
    def data_only_with_custom(self, body, **kwargs):
        if (body["resolution"] == "custom") != ("data" in body):
            raise ValidationError("data is required with custom and only with custom.", "data")


class ResolveResponse(Schema):
    conflict = fields.Nested(ConflictOut)
    record = fields.Nested(PulledRecordSchema)
