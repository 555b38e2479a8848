"""Login, refresh and logout bodies."""

from marshmallow import Schema, fields, validate


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


class RefreshRequest(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class LogoutRequest(Schema):
    refresh_token = fields.String(validate=validate.Length(min=1, max=4096))


class TokenPair(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class Me(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    unit = fields.String(attribute="unit_code")
