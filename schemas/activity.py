"""Wire shapes of ``GET /api/v1/activity``: one row of counts per collaborator."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from schemas.fields import Day


class ActivityQuery(Schema):
    class Meta:
        unknown = RAISE

    as_of = Day(load_default=None, metadata={"description": "The day to count up to (default: today)."})
    unit = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Only this district or commune (inside your scope, else 404)."},
    )


class DeviceActivity(Schema):
    device_id = fields.String(required=True)
    last_sync_at = fields.DateTime(allow_none=True, required=True)
    clock_offset_s = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The device's clock minus the server's, as last observed (seconds)."},
    )


class CollaboratorActivity(Schema):
    username = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    unit = fields.String(required=True, metadata={"description": "The collaborator's commune."})
    district_code = fields.String(allow_none=True)
    last_sync_at = fields.DateTime(allow_none=True, required=True)
    days_since_sync = fields.Integer(
        required=True,
        metadata={"description": "Days since the last sync (or account creation)."},
    )
    silent = fields.Boolean(required=True, metadata={"description": "More than COLLABORATOR_SILENT_DAYS."})
    households = fields.Integer(required=True, metadata={"description": "Households they wrote."})
    registrations = fields.Integer(required=True, metadata={"description": "Registrations they wrote."})
    follow_ups = fields.Integer(
        required=True,
        metadata={"description": "Support items delivered and payouts confirmed."},
    )
    rejected_changes = fields.Integer(required=True)
    open_conflicts = fields.Integer(required=True)
    devices = fields.List(
        fields.Nested(DeviceActivity),
        required=True,
        metadata={"description": "The collaborator's devices, most recently synced first."},
    )


class ActivityReport(Schema):
    as_of = fields.Date(required=True)
    items = fields.List(fields.Nested(CollaboratorActivity), required=True)
