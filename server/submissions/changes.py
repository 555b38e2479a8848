"""The push changes of a submitted instance, built against the records as they stand.

``server.odk.changes`` maps answers to record fields; this module looks up what that mapping
needs (the household, the registration, the support item or payout the form names) and the
base versions to merge against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.models import OdkSubmission
from server.odk import changes as mapping
from server.odk.instances import INSTANCE_ID_PREFIX, Instance, InstanceError
from server.scope import Scope
from server.store import odk as store
from server.store.odk import ACCEPTED
from server.store.sync import SqlStore
from sync.records import Record

__all__ = ["ACCEPTED", "MAIN_RECORD", "RecordMissing", "build_changes", "read_record_ids"]

# The record each form is about.
MAIN_RECORD = {
    mapping.EXIT_REGISTRATION: "registrations",
    mapping.FOLLOW_UP_VISIT: "support_items",
    mapping.PAYOUT_RECEIPT: "payouts",
}


class RecordMissing(LookupError):
    """The form names a record (a support item, a payout) that does not exist in the sender's units."""


def read_record_ids(submission: OdkSubmission, instance: Instance) -> tuple[str | None, str | None]:
    """(the id of the record the form is about, its household's id), as the form names them.

    A registration's id is the submission's first instanceID; the other forms name their
    record. These are what the sender *asks* to write: the submission is bound to them
    (``OdkSubmission.record_id``) only once the engine accepts a version of it.
    """
    try:
        references = mapping.read_referenced_ids(instance)
    except InstanceError:
        references = {}
    entity = MAIN_RECORD[instance.form_id]
    if entity == "registrations":
        record_id = submission.instance_id.removeprefix(INSTANCE_ID_PREFIX)
    else:
        record_id = references.get(entity)
    return record_id, references.get("households")


def build_changes(
    engine_store: SqlStore, scope: Scope, submission: OdkSubmission, instance: Instance, now: datetime
):
    """The push changes of ``instance``, built against the current records inside ``scope``.

    An edit merges against the versions the submission's earlier instances produced (what
    the phone saw when it was edited), so answers changed on the server meanwhile are not
    overwritten by the form's old values. A record outside the sender's units is read as
    absent, as the engine reads it: none of its data goes into the changes (which, refused,
    are kept in the sender's unit).
    """
    references = mapping.read_referenced_ids(instance)
    produced = read_versions_produced(submission)

    def read(entity: str, record_id: str | None) -> Record | None:
        record = engine_store.get_record(entity, record_id) if record_id else None
        if record is None or not scope.covers(record.commune_code, record.district_code):
            return None
        return record

    if instance.form_id == mapping.EXIT_REGISTRATION:
        household_id = references["households"]
        household = read("households", household_id)
        household_base = produced.get(("households", household_id)) or (
            household.version if household else None
        )
        kwargs: dict[str, Any] = {}
        registration_id, _ = read_record_ids(submission, instance)
        if instance.is_edit:
            registration = read("registrations", registration_id)
            kwargs = {
                "registration": dict(registration.data) if registration is not None else {},
                "registration_base_version": produced.get(("registrations", registration_id)),
            }
        return mapping.build_exit_registration_changes(
            instance,
            registration_id=registration_id,
            household=dict(household.data) if household is not None else None,
            household_base_version=household_base,
            received_at=now,
            **kwargs,
        )
    entity = MAIN_RECORD[instance.form_id]
    record_id = references[entity]
    record = read(entity, record_id)
    if record is None or record.deleted:
        what = "support item" if entity == "support_items" else "payout"
        raise RecordMissing(f"No such {what} ({record_id}) in your units.")
    base = produced.get((entity, record_id)) or record.version
    if instance.form_id == mapping.FOLLOW_UP_VISIT:
        return mapping.build_follow_up_visit_changes(
            instance, support_item=dict(record.data), base_version=base, received_at=now
        )
    return mapping.build_payout_receipt_changes(
        instance, payout=dict(record.data), base_version=base, received_at=now
    )


def read_versions_produced(submission: OdkSubmission) -> dict[tuple[str, str], int]:
    """The latest version each record reached through the submission's accepted instances."""
    produced: dict[tuple[str, str], int] = {}
    for earlier in reversed(store.list_instances(submission.id)):  # oldest first
        if earlier.outcome != ACCEPTED:
            continue
        for result in earlier.results.get("results") or []:
            if result.get("version") is not None:
                produced[(result["entity"], result["id"])] = result["version"]
    return produced
