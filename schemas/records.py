"""The `data` of each synced entity, exactly as the contract's Records section defines it.

One schema per entity; `validate_record(entity, data)` is the single entry point the engine
receives by injection (the engine itself never imports marshmallow). Optional fields may be
left out or sent as null and load as None, so every clean record carries every field: the
three-way merge compares like with like, and a pulled record has one stable shape.
Text is never stripped or normalised, so Vietnamese names round-trip byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import DateText, StrictBoolean, StrictFloat, StrictInteger, TimestampText, UUIDText
from sync.lifecycles import PAYOUT_LIFE, REGISTRATION_LIFE, SUPPORT_ITEM_LIFE, Lifecycle
from sync.records import (
    FUNDING_SOURCES,
    HOUSEHOLD_CATEGORIES,
    HOUSEHOLDS,
    NEEDS,
    PAYOUT_KINDS,
    PAYOUTS,
    REGISTRATION_KINDS,
    REGISTRATIONS,
    SUPPORT_ITEMS,
)

NAME_MAX = 200
TEXT_MAX = 2000
YEARS = validate.Range(min=2000, max=2100)
# Larger than any programme payment, small enough for a SQL BIGINT and for JSON numbers that
# JavaScript clients read exactly.
AMOUNT_MAX = 10**13


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _name(max_length: int = NAME_MAX) -> fields.String:
    """A required, non-blank piece of text up to `max_length` characters."""
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_length), _not_blank])


def _optional_text(max_length: int = TEXT_MAX) -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=validate.Length(max=max_length))


def _optional(field_class: type[fields.Field], **kwargs: Any) -> fields.Field:
    return field_class(load_default=None, allow_none=True, **kwargs)


def _check_dates(life: Lifecycle, data: dict[str, Any]) -> None:
    """A record in a status carries the dates the moves into it set (a shape, read from the
    lifecycle: whether the move itself was allowed is the engine's)."""
    status = data.get("status")
    missing = [name for name in life.required_dates(status) if data.get(name) is None] if status else []
    if missing:
        raise ValidationError({name: [f"Required when status is {status}."] for name in missing})


def _unique(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Values must not repeat.")


class RecordSchema(Schema):
    """Refuses unknown fields: a typo in a field name is an error, never silently dropped."""

    class Meta:
        unknown = RAISE


class HouseholdSchema(RecordSchema):
    code = _name(50)
    commune_code = fields.String(required=True, validate=[validate.Length(min=1, max=10), _not_blank])
    village = _name()
    head_name = _name()
    members = StrictInteger(required=True, validate=validate.Range(min=1, max=100))
    category = fields.String(required=True, validate=validate.OneOf(HOUSEHOLD_CATEGORIES))
    ethnic_minority = StrictBoolean(required=True)
    phone = _optional_text(30)
    latitude = _optional(StrictFloat, validate=validate.Range(min=-90, max=90))
    longitude = _optional(StrictFloat, validate=validate.Range(min=-180, max=180))
    notes = _optional_text()
    # Server-managed: on the tombstone of a household settled as a duplicate of another, the
    # kept household's id (accepted so a pulled tombstone can be pushed back).
    merged_into = UUIDText(allow_none=True)  # no default: a household never merged lacks it


class RegistrationSchema(RecordSchema):
    household_id = UUIDText(required=True)
    year = StrictInteger(required=True, validate=YEARS)
    kind = fields.String(required=True, validate=validate.OneOf(REGISTRATION_KINDS))
    members = StrictInteger(required=True, validate=validate.Range(min=1, max=100))
    needs = fields.List(fields.String(validate=validate.OneOf(NEEDS)), required=True, validate=_unique)
    commitment = StrictBoolean(required=True)
    signed_on = DateText(required=True)
    notes = _optional_text()
    # The SHA-256 (hex) of the signed form's photo, uploaded on its own (``/api/v1/uploads``).
    signed_form_photo = _optional(fields.String, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    # Server-managed: accepted so a pulled record can be pushed back; the engine decides
    # whether a value is a stale copy or a forbidden write.
    status = _optional(fields.String, validate=validate.OneOf(REGISTRATION_LIFE.states))
    submitted_at = _optional(TimestampText)
    decided_by = _optional(fields.String, validate=validate.Length(max=NAME_MAX))
    decided_at = _optional(TimestampText)
    decision_note = _optional_text()


class SupportItemSchema(RecordSchema):
    household_id = UUIDText(required=True)
    registration_id = UUIDText(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(NEEDS))
    description = _optional_text()
    amount_vnd = _optional(StrictInteger, validate=validate.Range(min=0, max=AMOUNT_MAX))
    funding_source = _optional(fields.String, validate=validate.OneOf(FUNDING_SOURCES))
    due_date = _optional(DateText)
    # The contract lists status among the item's optional fields; an item nobody has acted
    # on yet is in its initial state.
    status = fields.String(
        load_default=SUPPORT_ITEM_LIFE.initial, validate=validate.OneOf(SUPPORT_ITEM_LIFE.states)
    )
    delivered_on = _optional(DateText)

    @validates_schema
    def _check_delivery(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_dates(SUPPORT_ITEM_LIFE, data)


class PayoutSchema(RecordSchema):
    household_id = UUIDText(required=True)
    registration_id = _optional(UUIDText)
    kind = fields.String(required=True, validate=validate.OneOf(PAYOUT_KINDS))
    recognized_year = StrictInteger(required=True, validate=YEARS)
    amount_vnd = StrictInteger(required=True, validate=validate.Range(min=0, max=AMOUNT_MAX))
    due_date = DateText(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PAYOUT_LIFE.states))
    disbursed_on = _optional(DateText)
    confirmed_on = _optional(DateText)

    @validates_schema
    def _check_payment_dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_dates(PAYOUT_LIFE, data)


RECORD_SCHEMAS: Mapping[str, Schema] = {
    HOUSEHOLDS: HouseholdSchema(),
    REGISTRATIONS: RegistrationSchema(),
    SUPPORT_ITEMS: SupportItemSchema(),
    PAYOUTS: PayoutSchema(),
}


def validate_record(entity: str, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check one record's `data`; return `(clean_data, {})` or `({}, errors)`.

    `clean_data` holds every field of the entity (absent optional fields as None), dates and
    timestamps as canonical text, UUIDs in lower case. `errors` maps field names to lists of
    messages (list items by their index, as text, so the dict is JSON-ready); problems with the
    record as a whole are under `_schema`. An unknown entity raises KeyError: the push schema
    has already refused it, so reaching here with one is a programming error.
    """
    schema = RECORD_SCHEMAS[entity]
    if not isinstance(data, Mapping):
        return {}, {"_schema": ["Record data must be an object."]}
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        return {}, _jsonable(exc.normalized_messages())


def _jsonable(messages: Any) -> Any:
    """marshmallow keys list-item errors by int; JSON objects need text keys."""
    if isinstance(messages, Mapping):
        return {str(key): _jsonable(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [_jsonable(item) for item in messages]
    return messages
