"""Device tokens: the keys that set up ODK Collect without a password (a settings QR code)."""

from marshmallow import Schema, fields, validate


class DeviceTokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    label = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class DeviceTokenOut(Schema):
    id = fields.Integer()
    username = fields.String()
    label = fields.String(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class DeviceTokenList(Schema):
    items = fields.List(fields.Nested(DeviceTokenOut))


class DeviceTokenCreated(DeviceTokenOut):
    token = fields.String(metadata={"description": "Shown once; only its hash is kept."})
    server_url = fields.String(metadata={"description": "The URL to give ODK Collect."})
    collect_settings = fields.Dict(metadata={"description": "The settings JSON a Collect QR code carries."})
    qr_payload = fields.String(
        metadata={"description": "The text to render as a QR code: base64 of the zlib-compressed settings."}
    )
