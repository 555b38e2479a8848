"""Reads of the four synced entities: ``GET /api/v1/<entity>`` queries and their pages.

Each entity takes only the filters that mean something for it; any other parameter is a 422.
``year`` is a registration's ``year``, a payout's ``recognized_year`` and, for a support item,
the year of the registration whose plan it belongs to.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from schemas.fields import UUIDText
from schemas.sync import PulledRecordSchema
from sync.lifecycles import PAYOUT_LIFE, REGISTRATION_LIFE, SUPPORT_ITEM_LIFE
from sync.records import HOUSEHOLDS, PAYOUTS, REGISTRATIONS, SUPPORT_ITEMS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ListQuery(Schema):
    """What every entity list takes."""

    class Meta:
        unknown = RAISE

    unit = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "Only records of this district or commune (inside your scope, else 404)."},
    )
    include_deleted = fields.Boolean(
        load_default=False, metadata={"description": "Also list deleted records (tombstones)."}
    )
    cursor = fields.String(load_default=None, metadata={"description": "The previous page's cursor."})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))


class HouseholdQuery(ListQuery):
    pass


class FollowUpQuery(ListQuery):
    """Filters of the records that hang off a household."""

    household_id = UUIDText(load_default=None)
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


class RegistrationQuery(FollowUpQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(REGISTRATION_LIFE.states))


class SupportItemQuery(FollowUpQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(SUPPORT_ITEM_LIFE.states))


class PayoutQuery(FollowUpQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(PAYOUT_LIFE.states))


QUERIES: dict[str, type[ListQuery]] = {
    HOUSEHOLDS: HouseholdQuery,
    REGISTRATIONS: RegistrationQuery,
    SUPPORT_ITEMS: SupportItemQuery,
    PAYOUTS: PayoutQuery,
}


class RecordPage(Schema):
    items = fields.List(fields.Nested(PulledRecordSchema), required=True)
    cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The next page's cursor; null on the last page."},
    )
