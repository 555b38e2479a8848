"""Taking a submitted instance in: stored as received, then applied through the sync engine.

One write path: an instance becomes ordinary push changes (``server.odk.changes``), so a form
is versioned, merged, scoped and audited like a phone's push. What ODK adds:

- **Idempotence by instanceID.** The same instanceID with byte-identical XML is the phone
  re-sending (a lost response, or media split over several POSTs): its new attachments are
  kept and nothing else happens. The same instanceID with other XML is 409. Change ids derive
  from the instanceID, so even a race between two copies ends as ``duplicate``.
- **Edits.** An instance with a ``deprecatedID`` naming the submission's current instance is
  an edit of the same registration (merged against the version the replaced instance
  produced); one naming an older instance is stale (409).
- **All or nothing per instance.** A form is one act of the collaborator, pushed with the
  engine's ``push_form``: if the engine refuses any of its changes (a locked registration, a
  unit outside the sender's, invalid answers), none of them is applied and every change is
  kept as a rejected change for supervisors (the engine decides and files that); the
  instance is stored with the refusal, and the sender gets a 4xx saying why. Re-sending a
  refused instance tries again (the registration may have been returned since).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from schemas.records import validate_record
from schemas.sync import ChangeSchema
from server.auth.current import actor_and_scope
from server.errors import APIError, refusal_error
from server.extensions import db
from server.models import OdkInstance, OdkSubmission, User
from server.odk import attachments as files
from server.odk.forms import FormDefinition, UnknownFormError, get_form
from server.odk.instances import Instance, InstanceError, list_expected_attachments, parse_instance
from server.store import odk as store
from server.store.sync import SqlStore
from server.submissions.files import Upload, keep_attachments, save_uploads
from server.submissions.records import (
    ACCEPTED,
    MAIN_RECORD,
    RecordMissing,
    build_changes,
    describe_entity_block,
    read_record_ids,
)
from server.transactions import run_write
from sync.engine import place_of_refusals, push_form

REJECTED = "rejected"
DEVICE_ID_MAX = 100  # the push envelope's limit, which the engine's device ledger shares


@dataclass
class Intake:
    """What became of a received instance."""

    submission: OdkSubmission
    instance: OdkInstance
    repeated: bool  # the instance had been received before
    results: list[dict[str, Any]] = field(default_factory=list)
    refusal: dict[str, Any] | None = None  # {"code", "message", "details"} when refused

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    def raise_refusal(self) -> None:
        """Raise the refusal as the APIError the client sees (after the commit)."""
        if self.refusal is None:
            return
        raise refusal_error(self.refusal)  # out_of_scope answers as not_found: existence is not revealed

    def message(self) -> str:
        """The OpenRosaResponse message for an accepted instance."""
        if self.repeated:
            return "This submission was already received; its files are kept."
        if any(r["status"] == "conflict" for r in self.results):
            return (
                "Submission received. Some answers differ from changes made on the server "
                "meanwhile; both are kept for a supervisor to resolve."
            )
        return "Submission received."


def receive_instance(
    user: User,
    xml: bytes,
    uploads: list[Upload],
    *,
    now: datetime,
    device_hint: str | None = None,
    form_id: str | None = None,
    edit_of: str | None = None,
) -> Intake:
    """Store and apply one submitted instance; commit; return what became of it.

    ``form_id`` is the form the URL names (Central API) and must match the XML's; ``edit_of``
    is the submission an edit must belong to (``PUT …/submissions/<instanceId>``), which
    requires a ``deprecatedID``. Raises APIError, nothing stored, for XML that cannot be read
    or is unsafe, an unknown form, a refused attachment, an instanceID clash (409), a stale
    or unknown ``deprecatedID``. An instance the engine refuses is stored and returned with
    ``refusal`` set.
    """
    instance = read_instance(xml)
    form = find_form(instance.form_id)
    if form_id is not None and form_id != instance.form_id:
        raise APIError(
            "bad_request",
            f"The XML is an instance of form {instance.form_id!r}, not of {form_id!r} named in the URL.",
        )
    if edit_of is not None and instance.deprecated_id is None:
        raise APIError("bad_request", "An edit must name the instance it replaces in meta/deprecatedID.")
    expected = read_expected_attachments(instance, form)
    stored = save_uploads(uploads, instance, form, expected)
    device_id = (instance.get("deviceid") or device_hint or f"odk:{user.username}")[:DEVICE_ID_MAX]

    def work() -> Intake:
        earlier = store.get_instance(instance.instance_id)
        if earlier is not None:
            submission = store.get_submission(earlier.submission_id)
            if not _may_see(user, submission):
                # Another unit's instance: answered as a record outside the sender's units,
                # and nothing of this request (its files least of all) is attached to it.
                raise APIError("not_found", f"No submission {instance.instance_id} in your units.")
            return _receive_again(user, submission, earlier, xml, instance, form, stored, now, edit_of)
        if instance.deprecated_id is not None:
            submission = _start_edit(user, instance, now, edit_of)
        else:
            submission = _start_submission(user, instance, device_id, now)
        row = store.create_instance(
            submission_id=submission.id,
            instance_id=instance.instance_id,
            deprecated_id=instance.deprecated_id,
            form_version=instance.version,
            xml=xml,
            submitter_id=user.id,
            device_id=device_id,
            received_at=now,
            outcome=ACCEPTED,
            results={},
            expected_attachments=expected,
        )
        keep_attachments(row, stored, now, carried_from=_previous_instance(submission, row))
        return _apply(user, submission, row, instance, form, now)

    return run_write(work)


def read_instance(xml: bytes) -> Instance:
    """The parsed instance, or APIError with the parser's code (400 unsafe or malformed, 422)."""
    try:
        return parse_instance(xml)
    except InstanceError as exc:
        raise APIError(exc.code, exc.message, exc.details) from exc


def find_form(form_id: str) -> FormDefinition:
    try:
        return get_form(form_id)
    except UnknownFormError as exc:
        raise APIError("not_found", f"There is no form {form_id!r} on this server.") from exc


def unknown_version(form: FormDefinition, version: str | None) -> dict[str, Any]:
    """The refusal of an instance of an edition of ``form`` never published (Central: 400)."""
    return {
        "code": "unknown_form_version",
        "message": (
            f"Form {form.form_id!r} was never published in version {version!r}; "
            f"download the form again (current version {form.version})."
        ),
        "details": {"version": [f"Not a published version of {form.form_id}."]},
    }


def read_expected_attachments(instance: Instance, form: FormDefinition) -> list[str]:
    try:
        return list_expected_attachments(instance, form.binary_fields)
    except InstanceError as exc:
        raise APIError(exc.code, exc.message, exc.details) from exc


def _receive_again(
    user: User,
    submission: OdkSubmission,
    earlier: OdkInstance,
    xml: bytes,
    instance: Instance,
    form: FormDefinition,
    stored: dict[str, files.StoredFile],
    now: datetime,
    edit_of: str | None,
) -> Intake:
    if earlier.xml != xml:
        raise APIError(
            "instance_conflict",
            f"A different submission with instanceID {instance.instance_id} was already received.",
        )
    if edit_of is not None and submission.instance_id != edit_of:
        raise APIError("stale_edit", "This instance belongs to another submission.")
    keep_attachments(earlier, stored, now)
    if earlier.outcome == REJECTED and submission.current_instance_id == earlier.instance_id:
        # Refused before: try again, the state that refused it may have changed.
        return _apply(user, submission, earlier, instance, form, now)
    results = earlier.results.get("results") or []
    return Intake(submission, earlier, True, results, earlier.results.get("refusal"))


def _start_submission(user: User, instance: Instance, device_id: str, now: datetime) -> OdkSubmission:
    # Bound to no record yet: the ids the form names are only what the sender asks to write;
    # ``_apply`` binds the submission to its record once the engine accepts a version of it.
    return store.create_submission(
        form_id=instance.form_id,
        instance_id=instance.instance_id,
        current_instance_id=instance.instance_id,
        entity=MAIN_RECORD[instance.form_id],
        record_id=None,
        household_id=None,
        submitter_id=user.id,
        device_id=device_id,
        instance_name=(instance.get("instanceName") or "")[:255] or None,
        created_at=now,
        edited_at=None,
    )


def _start_edit(user: User, instance: Instance, now: datetime, edit_of: str | None) -> OdkSubmission:
    replaced = store.get_instance(instance.deprecated_id)
    submission = store.get_submission(replaced.submission_id) if replaced is not None else None
    if submission is None or not _may_see(user, submission):
        raise APIError(
            "not_found",
            f"The submission this edit replaces ({instance.deprecated_id}) was never received.",
        )
    if edit_of is not None and edit_of != submission.instance_id:
        raise APIError("stale_edit", "The deprecatedID names an instance of another submission.")
    if submission.form_id != instance.form_id:
        raise APIError("bad_request", "An edit must be an instance of the same form.")
    if submission.current_instance_id != instance.deprecated_id:
        raise APIError(
            "stale_edit",
            f"This edit replaces {instance.deprecated_id}, but the submission was edited since "
            f"(its current version is {submission.current_instance_id}).",
        )
    submission.current_instance_id = instance.instance_id
    submission.edited_at = now
    submission.instance_name = (instance.get("instanceName") or "")[:255] or submission.instance_name
    return submission


def _may_see(user: User, submission: OdkSubmission) -> bool:
    """As ``store.get_visible_submission``: the submission lies inside the user's units."""
    scope = actor_and_scope(user)[1]
    return scope.covers(submission.commune_code, submission.district_code)


def _previous_instance(submission: OdkSubmission, row: OdkInstance) -> OdkInstance | None:
    if row.deprecated_id is None:
        return None
    return store.get_instance(row.deprecated_id)


def _apply(
    user: User,
    submission: OdkSubmission,
    row: OdkInstance,
    instance: Instance,
    form: FormDefinition,
    now: datetime,
) -> Intake:
    """Build the instance's changes and push them as one form (the engine's ``push_form``:
    all or nothing); record on the instance and the submission what became of them."""
    actor, scope = actor_and_scope(user)
    engine_store = SqlStore()
    device_id = row.device_id or f"odk:{user.username}"
    refusal = None if form.was_published(instance.version) else unknown_version(form, instance.version)
    if refusal is None:
        try:
            built = build_changes(engine_store, scope, submission, instance, now)
            changes = [ChangeSchema().load(change) for change in built]
        except InstanceError as exc:
            refusal = {"code": exc.code, "message": exc.message, "details": exc.details}
        except ValidationError as exc:
            refusal = {"code": "validation_error", "message": "The submission has invalid answers.",
                       "details": exc.normalized_messages()}  # fmt: skip
        except RecordMissing as exc:
            refusal = {"code": "not_found", "message": str(exc), "details": {}}
    if refusal is not None:
        # Nothing for the engine to weigh; the phone did reach the server all the same.
        engine_store.touch_device(device_id, user.id, now)
        engine_store.flush()
        return _refused(user, engine_store, submission, row, [], refusal)

    outcome = push_form(engine_store, actor, device_id, str(uuid.uuid4()), changes, now, validate_record)
    engine_store.flush()
    if not outcome.accepted:
        return _refused(user, engine_store, submission, row, outcome.results, outcome.refusal)
    row.outcome, row.results = ACCEPTED, {"results": outcome.results, **describe_entity_block(instance)}
    # Accepted: the submission is now about the record it wrote, and lies where that record lies.
    record_id, household_id = read_record_ids(submission, instance)
    record = engine_store.get_record(submission.entity, record_id) if record_id else None
    if record is not None:
        submission.record_id, submission.household_id = record_id, household_id
        submission.commune_code, submission.district_code = record.commune_code, record.district_code
    db.session.flush()
    return Intake(submission, row, False, outcome.results)


def _refused(
    user: User,
    engine_store: SqlStore,
    submission: OdkSubmission,
    row: OdkInstance,
    results: list[dict[str, Any]],
    refusal: dict[str, Any],
) -> Intake:
    """Keep the refusal on the instance; a submission no version of which was accepted stays
    where the engine files its sender's refusals."""
    row.outcome, row.results = REJECTED, {"results": results, "refusal": refusal}
    if submission.commune_code is None and submission.district_code is None:
        actor = actor_and_scope(user)[0]
        submission.commune_code, submission.district_code = place_of_refusals(engine_store, actor)
    db.session.flush()
    return Intake(submission, row, False, results, refusal)
