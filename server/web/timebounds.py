"""Dates the programme relies on that come from a phone (a form's `signed_on`, a support
item's `delivered_on`, a payout's `confirmed_on`), held against the window the change that
set them can have been made in (the audit entry's `made_after` .. `made_before`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from server.clock import programme_day
from server.store import audit as audit_store
from server.web.sessions import page_scope

#: The phone-given date of each entity that the pages check.
PHONE_DATES = {"registrations": "signed_on", "support_items": "delivered_on", "payouts": "confirmed_on"}


def outside_window(entity: str, record_id: str, value: Any, history: list) -> dict | None:
    """A flag when `value` (the record's current phone date) lies outside the window of the
    latest change that set it; None when it lies inside, or nothing bounds it."""
    field = PHONE_DATES[entity]
    if not value:
        return None
    setter = next((e for e in reversed(history) if e.after and field in e.after and e.made_before), None)
    if setter is None:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return None
    earliest = programme_day(setter.made_after) if setter.made_after else None
    latest = programme_day(setter.made_before)
    if day <= latest and (earliest is None or day >= earliest):
        return None
    return {
        "entity": entity,
        "record_id": record_id,
        "field": field,
        "value": day,
        "earliest": earliest,
        "latest": latest,
        "client_time": setter.client_time,
        "device_id": setter.device_id,
    }


def flags_for(entity: str, records: list[dict]) -> list[dict]:
    """The flags of a household's records of `entity` (rows with `id` and the date field)."""
    field = PHONE_DATES[entity]
    dated = [r for r in records if r.get(field)]
    if not dated:
        return []
    histories = audit_store.histories(page_scope(), entity, [r["id"] for r in dated])
    flags = [outside_window(entity, r["id"], r[field], histories.get(r["id"], [])) for r in dated]
    return [flag for flag in flags if flag]
