"""The error envelope every JSON endpoint answers with."""

from marshmallow import Schema, fields


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "snake_case error code"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorBody, required=True)
