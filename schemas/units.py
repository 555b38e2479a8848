"""Administrative units and quotas as the API shows them."""

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
