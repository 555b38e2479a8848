"""The records a submitted instance names, and its push changes built against them as they stand.

``server.odk.changes`` maps answers to record fields; this module looks up the records that
mapping needs (the household, the registration, the support item or payout the form names)
and the base versions to merge against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.models import OdkSubmission
from server.odk import changes as mapping
from server.odk.instances import INSTANCE_ID_PREFIX, Instance, InstanceError
from server.store import odk as store
from server.store.odk import ACCEPTED
from server.store.sync import SqlStore
from sync.actors import Scope
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
        # A correction of a returned registration chosen from the phone's list is that one.
        try:
            returned = mapping.read_returned_registration(instance)
        except InstanceError:
            returned = None
        record_id = (
            returned[0] if returned is not None else submission.instance_id.removeprefix(INSTANCE_ID_PREFIX)
        )
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
        household_base = (
            produced.get(("households", household_id))
            or entity_base_version(instance, "households", household_id)
            or (household.version if household else None)
        )
        kwargs: dict[str, Any] = {}
        registration_id, _ = read_record_ids(submission, instance)
        returned = mapping.read_returned_registration(instance)
        if instance.is_edit:
            registration = read("registrations", registration_id)
            kwargs = {
                "registration": dict(registration.data) if registration is not None else {},
                "registration_base_version": produced.get(("registrations", registration_id)),
            }
        elif returned is not None:
            # A returned registration corrected from the phone's list: the same registration.
            registration = read("registrations", returned[0])
            if registration is None or registration.deleted:
                raise RecordMissing(f"No such registration ({returned[0]}) in your units.")
            kwargs = {
                "registration": dict(registration.data),
                "registration_base_version": returned[1] or registration.version,
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
    base = (
        produced.get((entity, record_id))
        or entity_base_version(instance, entity, record_id)
        or record.version
    )
    if instance.form_id == mapping.FOLLOW_UP_VISIT:
        return mapping.build_follow_up_visit_changes(
            instance, support_item=dict(record.data), base_version=base, received_at=now
        )
    return mapping.build_payout_receipt_changes(
        instance, payout=dict(record.data), base_version=base, received_at=now
    )


def entity_base_version(instance: Instance, entity: str, record_id: str) -> int | None:
    """The server version a form's entity update builds on, from its ``meta/entity`` block.

    ``baseVersion`` is the version of the phone's copy of the entity when the form was
    filled. When that copy came from the server it is a server version, and the engine merges
    the form's answers against it (an official's change meanwhile is kept, field by field, or
    becomes a conflict). When it was made on the phone by an earlier form not yet synced
    (Collect's offline entities: same ``branchId``, ``baseVersion`` past ``trunkVersion``),
    it is the version the server gave that earlier form's update, so a phone's chain of
    updates applies in order and never conflicts with itself. None when the block says
    nothing about this record.
    """
    block = instance.entity
    if (
        block is None
        or block.dataset != entity
        or not block.update
        or block.entity_id != record_id
        or block.base_version is None
    ):
        return None
    trunk = block.trunk_version
    if block.branch_id is None or trunk is None or block.base_version <= trunk:
        return block.base_version
    earlier = find_branch_version(entity, record_id, block.branch_id, block.base_version - 1)
    # The earlier form of the branch not received yet: build on the server version it started from.
    return earlier if earlier is not None else trunk


def find_branch_version(entity: str, record_id: str, branch_id: str, base_version: int) -> int | None:
    """The server version produced by the branch's update that was made on ``base_version``."""
    for earlier in store.list_instances_about(entity, record_id):
        block = (earlier.results or {}).get("entity") or {}
        if (block.get("dataset"), block.get("id"), block.get("branchId"), block.get("baseVersion")) != (
            entity, record_id, branch_id, base_version,
        ):  # fmt: skip
            continue
        for result in earlier.results.get("results") or []:
            if (result.get("entity"), result.get("id")) == (entity, record_id) and result.get("version"):
                return result["version"]
    return None


def describe_entity_block(instance: Instance) -> dict[str, Any]:
    """What an accepted instance keeps of its ``meta/entity`` (for ``find_branch_version``)."""
    block = instance.entity
    if block is None:
        return {}
    return {
        "entity": {
            "dataset": block.dataset,
            "id": block.entity_id,
            "baseVersion": block.base_version,
            "trunkVersion": block.trunk_version,
            "branchId": block.branch_id,
            "create": block.create,
            "update": block.update,
        }
    }


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
