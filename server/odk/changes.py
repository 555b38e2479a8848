"""Submitted instances as changes of the sync push: one write path for forms and apps alike.

An ODK submission becomes ordinary ``POST /api/v1/sync/push`` changes (protocol.md), so it is
versioned, merged, scoped and audited like any other write. The functions here only build the
changes; the caller looks records up, runs the engine and answers the client.

Every ``change_id`` is derived from the instanceID (a UUIDv5), so re-sending the same instance
(Collect retries, media sent over several POSTs) yields the same change ids, which the engine
reports as ``duplicate``: never a second record. An edit has its own instanceID, hence its own
change ids, while the registration keeps the id of the first (root) instance.

Fields are checked here only as far as turning text into JSON values needs (numbers, dates,
yes/no, UUIDs, presence); the engine validates the records themselves (choice lists, ranges,
who may set what) and rejects with its own reasons.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from server.odk.instances import Instance, InvalidInstanceError
from sync.lifecycles import CONFIRMED, DELIVERED, PAYOUT_LIFE, SUPPORT_ITEM_LIFE

# Never change this: the change ids of every instance ever received derive from it, and a
# new namespace would turn re-sent instances into new changes.
CHANGE_ID_NAMESPACE = uuid.UUID("6f1c53a4-8b0e-5c47-9d2a-0f4e1b7a9c31")

WHOLE_NUMBER = re.compile(r"-?[0-9]+")

EXIT_REGISTRATION = "exit_registration"
FOLLOW_UP_VISIT = "follow_up_visit"
PAYOUT_RECEIPT = "payout_receipt"

# The element names each mapping reads, with the XForm bind type it expects (tests check the
# compiled forms against this table, so a renamed question fails a test, not a submission).
FIELDS_READ: dict[str, dict[str, str]] = {
    EXIT_REGISTRATION: {
        "household_id": "string", "household_code": "string", "commune_code": "string",
        "village": "string", "head_name": "string", "members": "int", "category": "string",
        "ethnic_minority": "string", "phone": "string", "location": "geopoint", "year": "int",
        "kind": "string", "needs": "string", "commitment": "string", "signed_on": "date",
        "notes": "string", "start": "dateTime", "end": "dateTime",
        # A household's registration returned for correction (from registrations.csv), which
        # this submission corrects, and the version of it the phone saw; empty otherwise.
        "registration_id": "string", "registration_version": "string",
    },
    FOLLOW_UP_VISIT: {
        "household_id": "string", "support_item_id": "string", "delivered_on": "date",
        "start": "dateTime", "end": "dateTime",
    },
    PAYOUT_RECEIPT: {
        "household_id": "string", "payout_id": "string", "confirmed_on": "date",
        "start": "dateTime", "end": "dateTime",
    },
}  # fmt: skip

# The records a form names by id, as (element name, entity), in the order to look them up.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    EXIT_REGISTRATION: (("household_id", "households"),),
    FOLLOW_UP_VISIT: (("household_id", "households"), ("support_item_id", "support_items")),
    PAYOUT_RECEIPT: (("household_id", "households"), ("payout_id", "payouts")),
}


def derive_change_id(instance_id: str, entity: str) -> str:
    """The change id of ``entity``'s change made from instance ``instance_id`` (stable)."""
    return str(uuid.uuid5(CHANGE_ID_NAMESPACE, f"{instance_id}/{entity}"))


def read_referenced_ids(instance: Instance) -> dict[str, str]:
    """The records the instance names, ``{entity: id}``, for the caller to look up first.

    For an exit registration that is the household (which may not exist yet: the phone
    creates it); for a follow-up visit the household and the support item; for a payout
    receipt the household and the payout. Raises InvalidInstanceError for a missing or
    malformed id, ValueError for a form that is not one of the shipped ones.
    """
    references = REFERENCES.get(instance.form_id)
    if references is None:
        raise ValueError(f"no mapping for form {instance.form_id!r}")
    reader = _FieldReader(instance)
    ids = {entity: reader.uuid(name) for name, entity in references}
    reader.raise_if_invalid()
    return ids  # type: ignore[return-value] - no None left once raise_if_invalid passed


def read_returned_registration(instance: Instance) -> tuple[str, int | None] | None:
    """``(registration id, version the phone saw)`` when the form corrects a returned registration.

    The registration form reads the household's returned registration from the phone's
    ``registrations`` list; a submission that names one updates that registration instead of
    making a new one. None when it names none (a new registration, or not this form).
    """
    if instance.form_id != EXIT_REGISTRATION or instance.get("registration_id") is None:
        return None
    reader = _FieldReader(instance)
    registration_id = reader.uuid("registration_id")
    version_text = instance.get("registration_version")
    version = None
    if version_text is not None:
        if WHOLE_NUMBER.fullmatch(version_text) and int(version_text) >= 1:
            version = int(version_text)
        else:
            reader._fail("registration_version", "must be a version number")
    reader.raise_if_invalid()
    return registration_id, version  # type: ignore[return-value]


def build_exit_registration_changes(
    instance: Instance,
    *,
    registration_id: str | None = None,
    registration: Mapping[str, Any] | None = None,
    registration_base_version: int | None = None,
    household: Mapping[str, Any] | None = None,
    household_base_version: int | None = None,
    received_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The household upsert and the registration upsert an exit-registration instance makes.

    - ``registration_id``: the registration's id, which is the UUID of the submission's first
      (root) instance. Defaults to this instance's UUID; required for an edit (an instance
      with a ``deprecatedID``), where the caller knows the root from its records.
    - ``registration``: for an edit, the registration's current ``data``. The form does not
      carry the server-managed fields (``status``, ``submitted_at``, decision fields); they
      are sent back at their current values, which the engine does not count as a change,
      whereas leaving them out would read as setting them to null (refused as read-only).
    - ``registration_base_version``: for an edit, the registration version the replaced
      instance produced (what the phone saw, so the engine merges against it); None for a
      new registration.
    - ``household``: the household's current ``data`` when it already exists (else None),
      and ``household_base_version`` the version this submission builds on (None for a
      household the phone created). The form's answers replace the fields it asks for; the
      fields it does not ask, or left empty (phone, location), keep their current values.
    - ``received_at``: when the server received it, for ``client_time`` if the instance has
      no usable ``end``/``start`` timestamp.

    Raises InvalidInstanceError listing every missing or unreadable answer.
    """
    _require_form(instance, EXIT_REGISTRATION)
    if instance.is_edit and (registration_id is None or registration is None):
        raise ValueError("an edited instance needs the root registration's id and current data")
    reader = _FieldReader(instance)
    household_id = reader.uuid("household_id")
    household_fields = {
        "code": reader.text("household_code"),
        "commune_code": reader.text("commune_code"),
        "village": reader.text("village"),
        "head_name": reader.text("head_name"),
        "members": reader.integer("members"),
        "category": reader.text("category"),
        "ethnic_minority": reader.yes_no("ethnic_minority"),
    }
    phone = reader.text("phone", required=False)
    location = reader.geopoint("location")
    registration_fields = {
        "household_id": household_id,
        "year": reader.integer("year"),
        "kind": reader.text("kind"),
        "members": household_fields["members"],
        "needs": reader.choices("needs"),
        "commitment": reader.yes_no("commitment"),
        "signed_on": reader.date("signed_on"),
        # The form shows every registration field, so an empty answer clears it.
        "notes": reader.text("notes", required=False),
    }
    reader.raise_if_invalid()

    household_data = {**(household or {}), **household_fields}
    if phone is not None:
        household_data["phone"] = phone
    if location is not None:
        household_data["latitude"], household_data["longitude"] = location
    client_time = _read_client_time(instance, received_at)
    return [
        _upsert(instance, "households", household_id, household_base_version, household_data, client_time),
        _upsert(
            instance,
            "registrations",
            registration_id or instance.uuid,
            registration_base_version,
            {**(registration or {}), **registration_fields},
            client_time,
        ),
    ]


def build_follow_up_visit_changes(
    instance: Instance,
    *,
    support_item: Mapping[str, Any],
    base_version: int,
    received_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The support-item upsert recording it delivered on the visit's ``delivered_on``.

    ``support_item`` is the item's current ``data`` and ``base_version`` its current version
    (a push carries the whole record). The visit's notes stay in the stored submission: a
    support item has no field for them. Raises InvalidInstanceError when an answer is
    missing or the item is not the named household's.
    """
    _require_form(instance, FOLLOW_UP_VISIT)
    reader = _FieldReader(instance)
    item_id = reader.uuid("support_item_id")
    household_id = reader.uuid("household_id")
    delivered_on = reader.date("delivered_on")
    reader.raise_if_invalid()
    _require_same_household(household_id, support_item, "support item")
    data = {**support_item, "status": DELIVERED, SUPPORT_ITEM_LIFE.sets_on(DELIVERED): delivered_on}
    client_time = _read_client_time(instance, received_at)
    return [_upsert(instance, "support_items", item_id, base_version, data, client_time)]


def build_payout_receipt_changes(
    instance: Instance,
    *,
    payout: Mapping[str, Any],
    base_version: int,
    received_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The payout upsert moving it to ``confirmed`` on the receipt's ``confirmed_on``.

    ``payout`` is the payout's current ``data`` and ``base_version`` its current version.
    Whether the payout may move (it must be ``disbursed``) is the engine's decision. Raises
    InvalidInstanceError when an answer is missing or the payout is not the named household's.
    """
    _require_form(instance, PAYOUT_RECEIPT)
    reader = _FieldReader(instance)
    payout_id = reader.uuid("payout_id")
    household_id = reader.uuid("household_id")
    confirmed_on = reader.date("confirmed_on")
    reader.raise_if_invalid()
    _require_same_household(household_id, payout, "payout")
    data = {**payout, "status": CONFIRMED, PAYOUT_LIFE.sets_on(CONFIRMED): confirmed_on}
    client_time = _read_client_time(instance, received_at)
    return [_upsert(instance, "payouts", payout_id, base_version, data, client_time)]


def _upsert(
    instance: Instance,
    entity: str,
    record_id: str | None,
    base_version: int | None,
    data: dict[str, Any],
    client_time: str | None,
) -> dict[str, Any]:
    return {
        "change_id": derive_change_id(instance.instance_id, entity),
        "entity": entity,
        "id": record_id,
        "op": "upsert",
        "base_version": base_version,
        "data": data,
        "client_time": client_time,
    }


def _require_form(instance: Instance, form_id: str) -> None:
    if instance.form_id != form_id:
        raise ValueError(f"expected a {form_id} instance, got {instance.form_id!r}")


def _require_same_household(household_id: str | None, record: Mapping[str, Any], what: str) -> None:
    # A typo in one of two ids would otherwise mark another household's item delivered.
    try:
        current = str(uuid.UUID(str(record.get("household_id"))))
    except ValueError:
        current = None
    if household_id != current:
        raise InvalidInstanceError(
            f"The {what} belongs to another household than the one named in the form.",
            {"household_id": [f"is not the household of this {what}"]},
        )


def _read_client_time(instance: Instance, received_at: datetime | None) -> str | None:
    # Collect stamps ``end`` when the form is finalised, with the phone's offset; it is only
    # kept for the audit, so a phone with a wrong clock harms nothing.
    for name in ("end", "start"):
        value = instance.get(name)
        if value is None:
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            continue
        if moment.tzinfo is not None:
            return moment.isoformat()
    return received_at.isoformat() if received_at is not None else None


class _FieldReader:
    """Reads answers by name, collecting every problem so one error lists them all."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.errors: dict[str, list[str]] = {}

    def raise_if_invalid(self) -> None:
        if self.errors:
            names = ", ".join(sorted(self.errors))
            raise InvalidInstanceError(
                f"The submission has missing or invalid answers: {names}.", self.errors
            )

    def _fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.instance.get(name)
        if value is None and required:
            self._fail(name, "is required")
        return value

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        # Digits only: Python's int() would also take "1_000" or " +5", which no phone sends.
        if not WHOLE_NUMBER.fullmatch(value):
            self._fail(name, "must be a whole number")
            return None
        return int(value)

    def yes_no(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value not in ("yes", "no"):
            self._fail(name, "must be yes or no")
            return None
        return value == "yes"

    def date(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            self._fail(name, "must be a date (YYYY-MM-DD)")
            return None

    def uuid(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self._fail(name, "must be a UUID")
            return None

    def choices(self, name: str) -> list[str]:
        # A select_multiple answer is its values separated by spaces; order kept, repeats dropped.
        return list(dict.fromkeys((self.instance.get(name) or "").split()))

    def geopoint(self, name: str) -> tuple[float, float] | None:
        value = self.instance.get(name)
        if value is None:
            return None
        parts = value.split()
        try:
            latitude, longitude = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            latitude = longitude = math.nan
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            self._fail(name, "must be a GPS point: latitude longitude [altitude accuracy]")
            return None
        return latitude, longitude
