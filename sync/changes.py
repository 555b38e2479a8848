"""One pushed change: decide its fate, then write it.

`plan_change` only reads and raises a SyncError to refuse; `carry_out` only writes. Keeping
the two apart is what makes each change succeed or fail on its own: a refused change has
written nothing, so nothing needs undoing while the rest of the batch goes on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.actors import COMMUNE, Actor, Scope
from sync.clocks import Window
from sync.errors import InvalidTransitionError, NotFoundError, OutOfScopeError, SyncError, ValidationFailed
from sync.holds import check_not_held, moves_into_hold
from sync.lifecycles import PLANNABLE_FORMS
from sync.merge import MergeResult, changed_fields, merge_record
from sync.records import (
    HOUSEHOLDS,
    PAYOUTS,
    REGISTRATION_SERVER_FIELDS,
    REGISTRATIONS,
    SUPPORT_ITEMS,
    UPSERT,
    Conflict,
    Record,
)
from sync.rules import (
    check_delete,
    check_immutable,
    check_not_locked,
    check_write,
    restart_if_returned,
    settle_server_fields,
)
from sync.store import Store
from sync.writes import WriteContext, write_version

#: `validate(entity, data) -> (clean_data, errors)`, e.g. `schemas.records.validate_record`.
Validator = Callable[[str, Any], tuple[dict[str, Any], dict[str, Any]]]

# Conflict ids derive from the change that raised them: one change can never open two.
_CONFLICT_NAMESPACE = uuid.UUID("5b0f6f4e-4c55-4a8e-9d7e-0d3c1f2a9e61")


@dataclass
class BatchContext:
    """Everything a change of one push is decided against.

    `produced` maps (entity, id) to the version this batch's changes produced or found (also
    for duplicates), so a record the device created and edited before syncing (both changes
    with base_version null) merges against its own creation, not against nothing.
    """

    store: Store
    actor: Actor
    scope: Scope
    device_id: str
    batch_id: str
    now: datetime
    validate: Validator
    produced: dict[tuple[str, str], int] = field(default_factory=dict)
    window: Window | None = None  # when the batch's changes can have been made (sync.clocks)


@dataclass(frozen=True)
class Plan:
    """What a change will do: its status, the new version's data (None: no new version) and
    the fields to keep aside in a conflict record (None: no conflict)."""

    status: str
    current: Record | None
    place: tuple[str, str]
    write: Mapping[str, Any] | None = None
    deleted: bool = False
    action: str = "update"
    base_version: int | None = None
    conflict_fields: Mapping[str, Mapping[str, Any]] | None = None


def conflict_id_for(change_id: str) -> str:
    """The id of the conflict a change opens."""
    return str(uuid.uuid5(_CONFLICT_NAMESPACE, change_id))


def plan_change(ctx: BatchContext, change: Mapping[str, Any]) -> Plan:
    """Decide what `change` does, reading only. Raises a SyncError to refuse it."""
    if change["op"] == UPSERT:
        return _plan_upsert(ctx, change)
    return _plan_delete(ctx, change)


def carry_out(ctx: BatchContext, change: Mapping[str, Any], plan: Plan) -> tuple[int, str | None]:
    """Write what `plan` decided; return (the record's version now, conflict id or None)."""
    entity, record_id = change["entity"], change["id"]
    version = plan.current.version if plan.current is not None else 0
    if plan.write is not None:
        window = ctx.window or Window(None, ctx.now)
        context = WriteContext(
            ctx.actor,
            ctx.now,
            ctx.device_id,
            ctx.batch_id,
            change["change_id"],
            change.get("client_time"),
            made_after=window.made_after,
            made_before=window.made_before,
            clock_suspect=window.suspect(change.get("client_time")),
        )
        record = write_version(
            ctx.store,
            context,
            entity=entity,
            record_id=record_id,
            current=plan.current,
            data=plan.write,
            deleted=plan.deleted,
            place=plan.place,
            action=plan.action,
        )
        version = record.version
    conflict_id = None
    if plan.conflict_fields:
        conflict_id = conflict_id_for(change["change_id"])
        ctx.store.create_conflict(
            Conflict(
                id=conflict_id,
                entity=entity,
                record_id=record_id,
                change_id=change["change_id"],
                base_version=plan.base_version,
                server_version=version,
                fields={name: dict(values) for name, values in plan.conflict_fields.items()},
                device_id=ctx.device_id,
                batch_id=ctx.batch_id,
                user_id=ctx.actor.user_id,
                username=ctx.actor.username,
                created_at=ctx.now,
                commune_code=plan.place[0],
                district_code=plan.place[1],
            )
        )
    return version, conflict_id


def visible_record(ctx: BatchContext, entity: str, record_id: str) -> Record | None:
    """The current record, or None when it does not exist or lies outside the actor's units
    (a record out of scope is indistinguishable from a missing one)."""
    record = ctx.store.get_record(entity, record_id)
    if record is None or not ctx.scope.covers(record.commune_code, record.district_code):
        return None
    return record


def _plan_upsert(ctx: BatchContext, change: Mapping[str, Any]) -> Plan:
    entity, role = change["entity"], ctx.actor.role
    clean, errors = ctx.validate(entity, change["data"])
    if errors:
        raise ValidationFailed("The record's data is invalid.", errors)
    current = _existing(ctx, change)
    if current is None:
        if change["base_version"] is not None:
            raise NotFoundError("No such record.", {"id": ["Unknown record."]})
        place = _locate(ctx, entity, clean, creating=True)
        data = settle_server_fields(entity, clean, None, None, ctx.now)
        check_write(role, entity, None, data)
        if moves_into_hold(entity, None, data):
            check_not_held(ctx.store, entity, change["id"], data)
        return Plan("applied", None, place, data, action="create")

    check_immutable(entity, current.data, clean)
    place = _locate(ctx, entity, clean, creating=False)
    base_version, base = _base(ctx, change, current)
    device = settle_server_fields(
        entity, clean, base, current.data, ctx.now, lambda: _older_data(ctx, current)
    )
    # With no common base (two creators of one id) the device's intent is judged against
    # the record as it stands.
    before = base if base_version is not None else current.data
    intended = changed_fields(before, device) - set(REGISTRATION_SERVER_FIELDS)
    check_write(role, entity, before, device)
    check_not_locked(entity, current.data, intended)

    if current.deleted:
        return _plan_edit_of_deleted(ctx, current, place, base_version, base, device, intended)
    if base_version == current.version:
        merge = MergeResult(device)
        status = "applied"
    else:
        merge = merge_record(base, current.data, device)
        status = "conflict" if merge.conflicts else "merged"
    data = dict(merge.data)
    conflicts = {name: found.to_dict() for name, found in merge.conflicts.items()}
    effect = changed_fields(current.data, data)
    if effect:
        try:
            if status != "applied":
                _check_merged(ctx, entity, data)
            check_write(role, entity, current.data, data)
        except SyncError:
            if not conflicts:
                raise
            # What merged cleanly is not a valid write without the conflicting part (a
            # delivery date without its status move): keep the device's whole intent aside.
            conflicts = _fields_aside(intended, base, current.data, device)
            effect = set()
    if effect and moves_into_hold(entity, current.data, data):
        check_not_held(ctx.store, entity, current.id, data)
    if effect:
        restart_if_returned(entity, current.data, data, ctx.now)
    return Plan(
        status,
        current,
        place,
        data if effect else None,
        base_version=base_version,
        conflict_fields=conflicts or None,
    )


def _plan_edit_of_deleted(
    ctx: BatchContext,
    current: Record,
    place: tuple[str, str],
    base_version: int | None,
    base: Mapping[str, Any],
    device: Mapping[str, Any],
    intended: set[str],
) -> Plan:
    if base_version == current.version:
        # The device saw the deletion and writes the record again: a restoration.
        check_write(ctx.actor.role, current.entity, current.data, device)
        return Plan("applied", current, place, dict(device), base_version=base_version)
    if not intended:
        return Plan("merged", current, place, base_version=base_version)
    aside = _fields_aside(intended, base, current.data, device)
    aside["deleted"] = {"base": False, "server": True, "device": False}
    return Plan("conflict", current, place, base_version=base_version, conflict_fields=aside)


def _plan_delete(ctx: BatchContext, change: Mapping[str, Any]) -> Plan:
    current = _existing(ctx, change)
    if current is None:
        raise NotFoundError("No such record.", {"id": ["Unknown record."]})
    check_delete(ctx.actor.role, current.entity, current.data, dependents_of(ctx.store, current))
    place = (current.commune_code, current.district_code)
    base_version, _ = _base(ctx, change, current)
    in_step = base_version == current.version
    if current.deleted:
        return Plan("applied" if in_step else "merged", current, place, base_version=base_version)
    if in_step:
        return Plan(
            "applied", current, place, current.data, deleted=True, action="delete", base_version=base_version
        )
    # The record changed since the device last saw it: deleting would throw away edits the
    # device never saw, so a person decides.
    base_record = _base_record(ctx, current, base_version)
    aside = {
        "deleted": {"base": base_record.deleted if base_record else None, "server": False, "device": True}
    }
    return Plan("conflict", current, place, base_version=base_version, conflict_fields=aside)


def dependents_of(store: Store, record: Record) -> list[Record]:
    """The records hanging off a household (read only for a household's deletion)."""
    return store.list_household_records(record.id) if record.entity == HOUSEHOLDS else []


def _existing(ctx: BatchContext, change: Mapping[str, Any]) -> Record | None:
    record = ctx.store.get_record(change["entity"], change["id"])
    if record is not None and not ctx.scope.covers(record.commune_code, record.district_code):
        raise NotFoundError("No such record.", {"id": ["Unknown record."]})
    return record


def _base(ctx: BatchContext, change: Mapping[str, Any], current: Record) -> tuple[int | None, dict[str, Any]]:
    """The version the device started from, and its data ({} when there is no common base)."""
    base_version = change["base_version"]
    if base_version is None:
        base_version = ctx.produced.get((current.entity, current.id))
    if base_version is None:
        return None, {}
    if base_version > current.version:
        raise ValidationFailed(
            "base_version is newer than the record.",
            {"base_version": [f"The record's current version is {current.version}."]},
        )
    record = _base_record(ctx, current, base_version)
    if record is None:
        # Every version is kept, so this is a store fault, not bad input.
        raise LookupError(f"{current.entity}/{current.id} lacks version {base_version}")
    return base_version, dict(record.data)


def _base_record(ctx: BatchContext, current: Record, base_version: int | None) -> Record | None:
    if base_version is None:
        return None
    if base_version == current.version:
        return current
    return ctx.store.get_version(current.entity, current.id, base_version)


def _locate(ctx: BatchContext, entity: str, data: Mapping[str, Any], *, creating: bool) -> tuple[str, str]:
    """The record's (commune_code, district_code), after checking what it refers to.

    Raises ValidationFailed (unknown commune, registration of another household),
    NotFoundError (unknown, deleted or unseen household or registration),
    InvalidTransitionError (a support item for a registration not approved) and
    OutOfScopeError (a unit outside the actor's).
    """
    if entity == HOUSEHOLDS:
        unit = ctx.store.get_unit(data["commune_code"])
        if unit is None or unit.level != COMMUNE or unit.parent_code is None:
            raise ValidationFailed("Unknown commune.", {"commune_code": ["Not a known commune code."]})
        place = (unit.code, unit.parent_code)
    else:
        household = _referenced(ctx, HOUSEHOLDS, data["household_id"], "household_id")
        place = (household.commune_code, household.district_code)
        if entity == SUPPORT_ITEMS or (entity == PAYOUTS and data.get("registration_id")):
            registration = _referenced(ctx, REGISTRATIONS, data["registration_id"], "registration_id")
            if registration.data.get("household_id") != data["household_id"]:
                raise ValidationFailed(
                    "The registration belongs to another household.",
                    {"registration_id": ["Belongs to another household."]},
                )
            if (
                entity == SUPPORT_ITEMS
                and creating
                and registration.data.get("status") not in PLANNABLE_FORMS
            ):
                raise InvalidTransitionError(
                    "Support is planned only for an approved registration.",
                    {"registration_id": ["The registration is not approved."]},
                )
    if not ctx.scope.covers(*place):
        raise OutOfScopeError("The record's unit is outside yours.", {"commune_code": [place[0]]})
    return place


def _referenced(ctx: BatchContext, entity: str, record_id: str, field_name: str) -> Record:
    record = visible_record(ctx, entity, record_id)
    if record is None or record.deleted:
        raise NotFoundError(
            f"Unknown or deleted {entity[:-1]}.", {field_name: ["Unknown or deleted record."]}
        )
    return record


def _older_data(ctx: BatchContext, current: Record) -> list[Mapping[str, Any]]:
    # Rare path (a device echoing a server-managed value from long ago): one extra read.
    return [record.data for record in ctx.store.list_versions(current.entity, current.id)]


def _check_merged(ctx: BatchContext, entity: str, data: Mapping[str, Any]) -> None:
    # Each side was valid; their union may not be (a status from one, a missing date from
    # the other), and an invalid record must never be stored.
    _, errors = ctx.validate(entity, data)
    if errors:
        raise ValidationFailed("The merged record is invalid.", errors)


def _fields_aside(
    names: set[str], base: Mapping[str, Any], server: Mapping[str, Any], device: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    return {
        name: {"base": base.get(name), "server": server.get(name), "device": device.get(name)}
        for name in sorted(names)
    }
