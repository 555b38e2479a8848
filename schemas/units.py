"""Administrative units, quotas and users as the API shows them."""

from marshmallow import Schema, fields


class UnitOut(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    kind = fields.String(allow_none=True)
    mountain = fields.Boolean(allow_none=True)


class UnitQuery(Schema):
    level = fields.String()


class UserOut(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    unit = fields.String(attribute="unit_code")
    active = fields.Boolean()
    last_sync_at = fields.DateTime(allow_none=True)
