"""The engine's entry points: push a batch, pull changes, resolve a conflict, decide a form.

Callers (the HTTP handlers, the ODK submission path, tests) pass a `Store` bound to one open
transaction, the acting user, the server's `now` (an aware datetime: the engine never reads
the clock) and, where records are written, the validator `schemas.records.validate_record`.
The caller commits after the call returns and only then reports the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sync.actors import COMMUNE, DISTRICT, Actor, resolve_scope
from sync.changes import BatchContext, Validator, carry_out, plan_change, visible_record
from sync.conflicts import resolve_conflict
from sync.decisions import decide_registration
from sync.errors import BatchOwnerError, SyncError
from sync.pull import pull
from sync.records import HOUSEHOLDS, AppliedChange, RejectedChange, StoredBatch
from sync.store import Store

__all__ = ["decide_registration", "pull", "push_batch", "resolve_conflict"]


def push_batch(
    store: Store,
    actor: Actor,
    device_id: str,
    batch_id: str,
    changes: Sequence[Mapping[str, Any]],
    now: datetime,
    validate: Validator,
) -> dict[str, Any]:
    """Apply a device's batch in order; return the contract's push response.

    `changes` are the validated change dicts of the push request (`change_id`, `entity`,
    `id`, `op`, `base_version`, `data`, `client_time`; ids canonical lower-case text). Each
    change gets one result `{"change_id", "entity", "id", "status", "version",
    "conflict_id", "errors"}`, status `applied`, `merged`, `conflict`, `rejected` or
    `duplicate`; `errors` is None or `{"code", "message", "details"}`.

    A batch_id already answered returns the stored response and writes nothing but the
    device's last-sync time. Raises BatchOwnerError when that batch_id belongs to another
    user, ForbiddenError when the actor's unit is unknown. Refusals of single changes never
    raise: they become `rejected` results and are stored.
    """
    answered = store.get_batch(batch_id)
    if answered is not None:
        if answered.user_id != actor.user_id:
            raise BatchOwnerError("This batch_id was sent by another user.")
        store.touch_device(device_id, actor.user_id, now)
        return dict(answered.response)
    _prefetch(store, changes, actor)
    ctx = BatchContext(store, actor, resolve_scope(store, actor), device_id, batch_id, now, validate)
    results = [_apply(ctx, change) for change in changes]
    response = {"batch_id": batch_id, "results": results}
    store.save_batch(StoredBatch(batch_id, actor.user_id, device_id, now, response))
    store.touch_device(device_id, actor.user_id, now)
    return response


def _apply(ctx: BatchContext, change: Mapping[str, Any]) -> dict[str, Any]:
    change_id, entity, record_id = change["change_id"], change["entity"], change["id"]
    earlier = ctx.store.get_applied_change(change_id)
    if earlier is not None:
        if (earlier.entity, earlier.record_id) == (entity, record_id):
            ctx.produced[(entity, record_id)] = earlier.version
        return _result(change, "duplicate", earlier.version, earlier.conflict_id)
    try:
        plan = plan_change(ctx, change)
    except SyncError as refusal:
        _keep_rejection(ctx, change, refusal)
        current = visible_record(ctx, entity, record_id)
        return _result(change, "rejected", current.version if current else None, None, refusal.to_dict())
    version, conflict_id = carry_out(ctx, change, plan)
    ctx.produced[(entity, record_id)] = version
    ctx.store.save_applied_change(
        AppliedChange(
            change_id=change_id,
            batch_id=ctx.batch_id,
            device_id=ctx.device_id,
            user_id=ctx.actor.user_id,
            entity=entity,
            record_id=record_id,
            status=plan.status,
            version=version,
            conflict_id=conflict_id,
            received_at=ctx.now,
            client_time=change.get("client_time"),
        )
    )
    return _result(change, plan.status, version, conflict_id)


def _keep_rejection(ctx: BatchContext, change: Mapping[str, Any], refusal: SyncError) -> None:
    commune_code = district_code = None
    if ctx.scope.level == COMMUNE:
        commune_code = ctx.scope.code
        unit = ctx.store.get_unit(commune_code)
        district_code = unit.parent_code if unit else None
    elif ctx.scope.level == DISTRICT:
        district_code = ctx.scope.code
    ctx.store.save_rejected_change(
        RejectedChange(
            change_id=change["change_id"],
            batch_id=ctx.batch_id,
            device_id=ctx.device_id,
            user_id=ctx.actor.user_id,
            username=ctx.actor.username,
            unit_code=ctx.actor.unit_code,
            entity=change["entity"],
            record_id=change["id"],
            op=change["op"],
            base_version=change["base_version"],
            data=dict(change["data"]),
            errors=refusal.to_dict(),
            received_at=ctx.now,
            client_time=change.get("client_time"),
            commune_code=commune_code,
            district_code=district_code,
        )
    )


def _result(
    change: Mapping[str, Any],
    status: str,
    version: int | None,
    conflict_id: str | None,
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "change_id": change["change_id"],
        "entity": change["entity"],
        "id": change["id"],
        "status": status,
        "version": version,
        "conflict_id": conflict_id,
        "errors": errors,
    }


def _prefetch(store: Store, changes: Iterable[Mapping[str, Any]], actor: Actor) -> None:
    """Tell the store every key the batch will read, so a SQL store loads them in bulk."""
    records: set[tuple[str, str]] = set()
    versions: set[tuple[str, str, int]] = set()
    change_ids: list[str] = []
    units: set[str] = {actor.unit_code}
    for change in changes:
        entity, record_id = change["entity"], change["id"]
        records.add((entity, record_id))
        change_ids.append(change["change_id"])
        if isinstance(change["base_version"], int):
            versions.add((entity, record_id, change["base_version"]))
        data = change["data"] if isinstance(change["data"], Mapping) else {}
        if entity == HOUSEHOLDS and isinstance(data.get("commune_code"), str):
            units.add(data["commune_code"])
        for field_name, referenced in (("household_id", "households"), ("registration_id", "registrations")):
            value = data.get(field_name)
            if isinstance(value, str):
                # Data is not validated yet; canonical ids are lower-case, and a miss only
                # costs the store one extra query later.
                records.add((referenced, value.lower()))
    store.prefetch(records=records, versions=versions, change_ids=change_ids, units=units)
