"""The engine's entry points: push a batch or one form, pull changes, resolve a conflict,
decide a form.

Callers (the HTTP handlers, the ODK submission path, tests) pass a `Store` bound to one open
transaction, the acting user, the server's `now` (an aware datetime: the engine never reads
the clock) and, where records are written, the validator `schemas.records.validate_record`.
The caller commits after the call returns and only then reports the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.actors import COMMUNE, DISTRICT, Actor, Scope, resolve_scope
from sync.changes import BatchContext, Validator, carry_out, plan_change, visible_record
from sync.clocks import observed_offset, window_for
from sync.conflicts import resolve_conflict
from sync.decisions import decide_registration
from sync.duplicates import find_duplicates, settle_duplicate, written_households
from sync.errors import BatchOwnerError, SyncError
from sync.holds import HELD_MOVES, held_keys
from sync.pull import pull
from sync.records import HOUSEHOLDS, REGISTRATIONS, AppliedChange, RejectedChange, StoredBatch
from sync.staging import StagedStore
from sync.store import Store

__all__ = [
    "FormOutcome",
    "decide_registration",
    "place_of_refusals",
    "pull",
    "push_batch",
    "push_form",
    "resolve_conflict",
    "settle_duplicate",
]


def push_batch(
    store: Store,
    actor: Actor,
    device_id: str,
    batch_id: str,
    changes: Sequence[Mapping[str, Any]],
    now: datetime,
    validate: Validator,
    sign: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Apply a device's batch in order; return the contract's push response.

    `changes` are the validated change dicts of the push request (`change_id`, `entity`,
    `id`, `op`, `base_version`, `data`, `client_time`; ids canonical lower-case text). Each
    change gets one result `{"change_id", "entity", "id", "status", "version",
    "conflict_id", "errors"}`, status `applied`, `merged`, `conflict`, `rejected` or
    `duplicate`; `errors` is None or `{"code", "message", "details"}`.

    `sign(response)`, when given, returns the answer's `receipt` (the server's signature over
    its batch_id and results); it is stored with the answer, so a re-sent batch gets the
    same receipt.

    The households the batch wrote are then compared with the households of their communes
    (`sync.duplicates.find_duplicates`, two store reads): a likely duplicate opens a
    `duplicate_suspected` case and changes no result.

    A batch_id already answered returns the stored response and writes nothing but the
    device's last-sync time. Raises BatchOwnerError when that batch_id belongs to another
    user, ForbiddenError when the actor's unit is unknown. Refusals of single changes never
    raise: they become `rejected` results and are stored.
    """
    if now.utcoffset() is None:
        raise ValueError("the engine needs an aware `now`: version times are compared across zones")
    answered = store.get_batch(batch_id)
    if answered is not None:
        if answered.user_id != actor.user_id:
            raise BatchOwnerError("This batch_id was sent by another user.")
        store.touch_device(
            device_id, actor.user_id, now, window_for(store.get_device(device_id), now).made_after
        )
        return dict(answered.response)
    _prefetch(store, changes, actor)
    window = window_for(store.get_device(device_id), now)
    ctx = BatchContext(
        store, actor, resolve_scope(store, actor), device_id, batch_id, now, validate, window=window
    )
    results = [_apply(ctx, change) for change in changes]
    _look_for_duplicates(store, actor, results, now)
    response: dict[str, Any] = {"batch_id": batch_id, "results": results}
    if sign is not None:
        response["receipt"] = dict(sign(response))
    store.save_batch(StoredBatch(batch_id, actor.user_id, device_id, now, response))
    store.touch_device(device_id, actor.user_id, now, window.made_after, observed_offset(changes, now))
    return response


@dataclass(frozen=True)
class FormOutcome:
    """What became of one form pushed all or nothing (`push_form`)."""

    results: list[dict[str, Any]]  # one per change, shaped as push_batch's results
    refusal: dict[str, Any] | None  # the errors of the first change at fault; None: accepted

    @property
    def accepted(self) -> bool:
        return self.refusal is None


NOT_APPLIED = "not_applied"


def push_form(
    store: Store,
    actor: Actor,
    device_id: str,
    batch_id: str,
    changes: Sequence[Mapping[str, Any]],
    now: datetime,
    validate: Validator,
) -> FormOutcome:
    """Push the changes of one form (an ODK instance: a household and its registration) as one
    act: all of them written, or none.

    Every change is planned and carried out in order, as in `push_batch`, but on a stage
    (`sync.staging.StagedStore`): later changes see what earlier ones wrote, the store sees
    nothing yet. If every change is accepted (`applied`, `merged`, `conflict`, `duplicate`)
    the stage is written to `store` and the results are push_batch's. If any is refused,
    nothing of the form is written; every change is kept as a refused change (filed like any
    refusal, `place_of_refusals`): the ones at fault with their own errors, the others with
    `not_applied` naming the first refusal in `details.refused_by`; each result is then
    `rejected` with those errors, and `refusal` is the first one's. A change already applied
    earlier stays `duplicate` and is not kept as refused. Either way the batch (a fresh
    `batch_id`) is remembered and the device counts as synced: the phone did reach the server.
    Raises ForbiddenError when the actor's unit is unknown; never raises for a refusal.
    """
    _prefetch(store, changes, actor)
    scope = resolve_scope(store, actor)
    stage = StagedStore(store)
    staged = BatchContext(stage, actor, scope, device_id, batch_id, now, validate)
    results: list[dict[str, Any] | None] = []
    faults: dict[int, dict[str, Any]] = {}
    for index, change in enumerate(changes):
        try:
            results.append(_take(staged, change))
        except SyncError as refusal:
            faults[index] = refusal.to_dict()
            results.append(None)
    if not faults:
        stage.commit()
        accepted = [result for result in results if result is not None]
        _look_for_duplicates(store, actor, accepted, now)
        return FormOutcome(_finish(store, actor, device_id, batch_id, now, accepted), None)
    first = faults[min(faults)]
    ctx = BatchContext(store, actor, scope, device_id, batch_id, now, validate)
    refused = []
    for index, change in enumerate(changes):
        result = results[index]
        if result is not None and result["status"] == "duplicate":
            refused.append(result)
            continue
        errors = faults.get(index) or {
            "code": NOT_APPLIED,
            "message": "Not applied: another change of the same form was refused.",
            "details": {"refused_by": first},
        }
        refused.append(_refuse(ctx, change, errors))
    return FormOutcome(_finish(store, actor, device_id, batch_id, now, refused), first)


def place_of_refusals(store: Store, actor: Actor) -> tuple[str | None, str | None]:
    """The (commune_code, district_code) a refusal of ``actor``'s is filed under: their own
    unit, whose supervisors see it (None, None for the province). ForbiddenError when the
    actor's unit is unknown."""
    return _place_of(store, resolve_scope(store, actor))


def _finish(
    store: Store,
    actor: Actor,
    device_id: str,
    batch_id: str,
    now: datetime,
    results: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    store.save_batch(
        StoredBatch(batch_id, actor.user_id, device_id, now, {"batch_id": batch_id, "results": results})
    )
    store.touch_device(device_id, actor.user_id, now)
    return results


def _look_for_duplicates(store: Store, actor: Actor, results: list[dict[str, Any]], now: datetime) -> None:
    """Open a case for each likely duplicate of the households the push wrote (never a
    refusal: the phone was right to send what it saw)."""
    written = [store.get_record(HOUSEHOLDS, household_id) for household_id in written_households(results)]
    find_duplicates(store, [record for record in written if record is not None], actor, now)


def _apply(ctx: BatchContext, change: Mapping[str, Any]) -> dict[str, Any]:
    """One change of a batch: its result; a refusal is kept and answered `rejected`."""
    try:
        return _take(ctx, change)
    except SyncError as refusal:
        return _refuse(ctx, change, refusal.to_dict())


def _refuse(ctx: BatchContext, change: Mapping[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    _keep_rejection(ctx, change, errors)
    current = visible_record(ctx, change["entity"], change["id"])
    return _result(change, "rejected", current.version if current else None, None, errors)


def _take(ctx: BatchContext, change: Mapping[str, Any]) -> dict[str, Any]:
    """Plan and carry out one change; its result. Raises the SyncError that refuses it."""
    change_id, entity, record_id = change["change_id"], change["entity"], change["id"]
    earlier = ctx.store.get_applied_change(change_id)
    if earlier is not None:
        if (earlier.entity, earlier.record_id) == (entity, record_id):
            ctx.produced[(entity, record_id)] = earlier.version
        return _result(change, "duplicate", earlier.version, earlier.conflict_id)
    plan = plan_change(ctx, change)
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


def _place_of(store: Store, scope: Scope) -> tuple[str | None, str | None]:
    if scope.level == COMMUNE:
        unit = store.get_unit(scope.code)
        return scope.code, unit.parent_code if unit else None
    if scope.level == DISTRICT:
        return None, scope.code
    return None, None


def _keep_rejection(ctx: BatchContext, change: Mapping[str, Any], errors: dict[str, Any]) -> None:
    """File a refused change under the refusing actor's unit (`place_of_refusals`)."""
    commune_code, district_code = _place_of(ctx.store, ctx.scope)
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
            errors=errors,
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
    held: set[tuple[str, str]] = set()
    for change in changes:
        entity, record_id = change["entity"], change["id"]
        records.add((entity, record_id))
        change_ids.append(change["change_id"])
        if isinstance(change["base_version"], int):
            versions.add((entity, record_id, change["base_version"]))
        data = change["data"] if isinstance(change["data"], Mapping) else {}
        if entity in HELD_MOVES and entity != REGISTRATIONS:
            # A payout moving into a held state reads the open conflicts on it and its household.
            held.update((e, i.lower()) for e, i in held_keys(entity, record_id, data))
        if entity == HOUSEHOLDS and isinstance(data.get("commune_code"), str):
            units.add(data["commune_code"])
        for field_name, referenced in (("household_id", "households"), ("registration_id", "registrations")):
            value = data.get(field_name)
            if isinstance(value, str):
                # Data is not validated yet; canonical ids are lower-case, and a miss only
                # costs the store one extra query later.
                records.add((referenced, value.lower()))
    store.prefetch(records=records, versions=versions, change_ids=change_ids, units=units, conflicts_on=held)
