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
from server.odk.instances import Instance
from server.store import odk as store
from server.store.sync import SqlStore

ACCEPTED = "accepted"

# The record each form is about.
MAIN_RECORD = {
    mapping.EXIT_REGISTRATION: "registrations",
    mapping.FOLLOW_UP_VISIT: "support_items",
    mapping.PAYOUT_RECEIPT: "payouts",
}


class RecordMissing(LookupError):
    """The form names a record (a support item, a payout) that does not exist in the sender's units."""


def build_changes(engine_store: SqlStore, submission: OdkSubmission, instance: Instance, now: datetime):
    """The push changes of ``instance``, built against the current records.

    An edit merges against the versions the submission's earlier instances produced (what
    the phone saw when it was edited), so answers changed on the server meanwhile are not
    overwritten by the form's old values.
    """
    references = mapping.read_referenced_ids(instance)
    produced = read_versions_produced(submission)
    if instance.form_id == mapping.EXIT_REGISTRATION:
        household_id = references["households"]
        household = engine_store.get_record("households", household_id)
        household_base = produced.get(("households", household_id)) or (
            household.version if household else None
        )
        kwargs: dict[str, Any] = {}
        if instance.is_edit:
            registration = engine_store.get_record("registrations", submission.record_id)
            kwargs = {
                "registration": dict(registration.data) if registration is not None else {},
                "registration_base_version": produced.get(("registrations", submission.record_id)),
            }
        return mapping.build_exit_registration_changes(
            instance,
            registration_id=submission.record_id,
            household=dict(household.data) if household is not None else None,
            household_base_version=household_base,
            received_at=now,
            **kwargs,
        )
    entity = MAIN_RECORD[instance.form_id]
    record_id = references[entity]
    record = engine_store.get_record(entity, record_id)
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
