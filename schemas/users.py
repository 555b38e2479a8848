"""Accounts as the admin API shows and changes them (passwords are never returned)."""

from marshmallow import Schema, fields, validate

from sync.actors import ROLES

USERNAME = validate.Length(min=1, max=80)
PASSWORD = validate.Length(min=1, max=1024)


class UserOut(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    role = fields.String()
    unit = fields.String(attribute="unit_code")
    active = fields.Boolean()
    created_at = fields.DateTime()
    last_sync_at = fields.DateTime(allow_none=True)


class UserCreate(Schema):
    username = fields.String(required=True, validate=USERNAME)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=16))
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    display_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class UserChange(Schema):
    """What an admin changes of an account; a new role or unit ends the user's tokens."""

    role = fields.String(validate=validate.OneOf(ROLES))
    unit = fields.String(validate=validate.Length(min=1, max=16))
    active = fields.Boolean()
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))


class PasswordReset(Schema):
    password = fields.String(required=True, validate=PASSWORD, load_only=True)


class PasswordChange(Schema):
    current_password = fields.String(required=True, validate=PASSWORD, load_only=True)
    new_password = fields.String(required=True, validate=PASSWORD, load_only=True)
