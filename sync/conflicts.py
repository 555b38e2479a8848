"""A person settles a conflict: keep the server's values, take the device's, or write others."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sync.actors import Actor, resolve_scope
from sync.changes import Validator, dependents_of
from sync.errors import ForbiddenError, InvalidTransitionError, NotFoundError, ValidationFailed
from sync.lifecycles import RESOLVE, may
from sync.merge import changed_fields
from sync.records import REGISTRATION_SERVER_FIELDS, Record
from sync.rules import (
    check_delete,
    check_immutable,
    check_may_write,
    check_not_locked,
    check_write,
    restart_if_returned,
    settle_server_fields,
)
from sync.store import Store
from sync.writes import WriteContext, write_version

RESOLUTIONS = ("keep_server", "take_device", "custom")


def resolve_conflict(
    store: Store,
    actor: Actor,
    conflict_id: str,
    resolution: str,
    data: Mapping[str, Any] | None,
    now: datetime,
    validate: Validator,
) -> dict[str, Any]:
    """Settle an open conflict; the outcome is a new version of the record for every device.

    - `keep_server`: the record keeps its current values (a new version all the same, so a
      device holding its own values pulls the server's);
    - `take_device`: the device's values of the fields in conflict replace the current ones
      (for a delete conflict, the record is deleted; for an edit of a deleted record, it is
      restored with the device's values);
    - `custom`: `data` (some or all fields of the record) is laid over the current values;
      the record is kept (restored if deleted).

    The resolved record is a write by the resolver like any push of it: the same role rules
    and lifecycle moves (`sync.rules.check_write`, `check_delete`) judge the current record
    against the result, so a resolution cannot do what the resolver could not push.

    Returns `{"conflict": <conflict, resolved>, "record": <record in wire shape>}`, audited as
    `resolve`. Raises ForbiddenError (a role that does not resolve, or may not write what the
    resolution writes), NotFoundError (no such conflict in the actor's units),
    InvalidTransitionError (already resolved, or a status move out of the lifecycle),
    ValidationFailed (unknown resolution, `data` missing with custom or given without it,
    invalid result), ReadOnlyFieldError (server-managed or creation-fixed field changed) and
    LockedRecordError (the registration was decided meanwhile, or a deleted household holds
    programme history).
    """
    if not may(actor.role, RESOLVE):
        raise ForbiddenError("Commune officials and above resolve conflicts.")
    if resolution not in RESOLUTIONS:
        raise ValidationFailed(
            "Unknown resolution.", {"resolution": [f"Must be one of: {', '.join(RESOLUTIONS)}."]}
        )
    if (resolution == "custom") != (data is not None):
        raise ValidationFailed(
            "data goes with custom only.", {"data": ["Required with custom, refused otherwise."]}
        )
    scope = resolve_scope(store, actor)
    conflict = store.get_conflict(conflict_id)
    if conflict is None or not scope.covers(conflict.commune_code, conflict.district_code):
        raise NotFoundError("No such conflict.")
    if conflict.status != "open":
        raise InvalidTransitionError("The conflict is already resolved.", {"status": conflict.status})
    current = store.get_record(conflict.entity, conflict.record_id)
    if current is None:
        raise LookupError(f"conflict {conflict_id} names a missing record")

    values, deleted = _chosen_values(resolution, conflict.fields, current.data, current.deleted, data)
    if not deleted:
        values = _checked(actor.role, current, values, now, validate)
    elif not current.deleted:
        check_delete(actor.role, current.entity, current.data, dependents_of(store, current))
    record = write_version(
        store,
        WriteContext(actor, now, conflict.device_id, conflict.batch_id, conflict.change_id),
        entity=conflict.entity,
        record_id=conflict.record_id,
        current=current,
        data=values,
        deleted=deleted,
        place=(current.commune_code, current.district_code),
        action="resolve",
    )
    resolved = replace(
        conflict,
        status="resolved",
        resolution=resolution,
        resolved_by=actor.username,
        resolved_at=now,
        resolved_version=record.version,
    )
    store.save_conflict_resolution(resolved)
    return {"conflict": resolved.to_wire(), "record": record.to_wire()}


def _chosen_values(
    resolution: str,
    fields: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Any],
    deleted: bool,
    data: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], bool]:
    values = dict(current)
    if resolution == "take_device":
        for name, sides in fields.items():
            if name == "deleted":
                deleted = bool(sides["device"])
            else:
                values[name] = sides["device"]
    elif resolution == "custom":
        if not isinstance(data, Mapping):
            raise ValidationFailed("data must be an object.", {"data": ["Must be an object."]})
        values.update(data)
        deleted = False
    return values, deleted


def _checked(
    role: str, current: Record, values: Mapping[str, Any], now: datetime, validate: Validator
) -> dict[str, Any]:
    """The resolved record, held to the same rules as any write of it by `role`."""
    entity = current.entity
    clean, errors = validate(entity, values)
    if errors:
        raise ValidationFailed("The resolved record is invalid.", errors)
    check_immutable(entity, current.data, clean)
    # The resolver may not decide a registration through a conflict: server-managed fields
    # must stay as they are.
    clean = settle_server_fields(entity, clean, current.data, current.data, now)
    if current.deleted:
        check_may_write(role, entity)  # a restoration: a whole record written again
    check_write(role, entity, current.data, clean)
    edits = changed_fields(current.data, clean) - set(REGISTRATION_SERVER_FIELDS)
    check_not_locked(entity, current.data, edits)
    if edits:
        restart_if_returned(entity, current.data, clean, now)
    return clean
