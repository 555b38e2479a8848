"""SQL for ODK submissions, their instances and attachments (tables in ``server/models/odk.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import defer

from server.extensions import db
from server.models import OdkAttachment, OdkComment, OdkInstance, OdkSubmission, User
from server.store.units import within
from sync.actors import Scope

ACCEPTED = "accepted"  # an instance whose changes the engine took (OdkInstance.outcome)


def get_instance(instance_id: str) -> OdkInstance | None:
    """The received instance with this instanceID (``uuid:…``), or None."""
    q = select(OdkInstance).where(OdkInstance.instance_id == instance_id)
    return db.session.execute(q).scalar_one_or_none()


def get_submission(submission_id: int) -> OdkSubmission | None:
    return db.session.get(OdkSubmission, submission_id)


def get_visible_submission(form_id: str, instance_id: str, scope: Scope) -> OdkSubmission | None:
    """The submission of ``form_id`` first sent as ``instance_id``, if it lies in ``scope``.

    A submission is placed like a record (``commune_code``, ``district_code``): where the
    record it wrote lies, or, until the engine accepts a version of it, in its sender's unit.
    Scoped exactly as the JSON API scopes records: outside the caller's units it does not
    exist, whoever sent it.
    """
    q = select(OdkSubmission).where(
        OdkSubmission.form_id == form_id,
        OdkSubmission.instance_id == instance_id,
        within(scope, OdkSubmission),
    )
    return db.session.execute(q).scalar_one_or_none()


def list_visible_submissions(form_id: str, scope: Scope) -> list[OdkSubmission]:
    """The form's submissions inside ``scope``, oldest first."""
    q = (
        select(OdkSubmission)
        .where(OdkSubmission.form_id == form_id, within(scope, OdkSubmission))
        .order_by(OdkSubmission.created_at, OdkSubmission.id)
    )
    return list(db.session.execute(q).scalars())


def create_submission(**columns) -> OdkSubmission:
    submission = OdkSubmission(**columns)
    db.session.add(submission)
    db.session.flush()
    return submission


def create_instance(**columns) -> OdkInstance:
    instance = OdkInstance(**columns)
    db.session.add(instance)
    db.session.flush()
    return instance


def list_instances(submission_id: int) -> list[OdkInstance]:
    """Every instance of a submission, newest first (the first is the current one)."""
    q = (
        select(OdkInstance)
        .where(OdkInstance.submission_id == submission_id)
        .order_by(OdkInstance.received_at.desc(), OdkInstance.id.desc())
    )
    return list(db.session.execute(q).scalars())


def get_current_instances(submissions: Iterable[OdkSubmission]) -> dict[int, OdkInstance]:
    """The current instance of each submission, by submission id, in one query.

    The XML is left out (a list shows thousands); ``list_instance_xml`` loads it for a page.
    """
    by_instance_id = {s.current_instance_id: s.id for s in submissions}
    if not by_instance_id:
        return {}
    q = (
        select(OdkInstance)
        .where(OdkInstance.instance_id.in_(list(by_instance_id)))
        .options(defer(OdkInstance.xml))
    )
    return {by_instance_id[row.instance_id]: row for row in db.session.execute(q).scalars()}


def list_instance_xml(instance_row_ids: list[int]) -> dict[int, bytes]:
    """The XML of each instance row, by row id, in one query."""
    if not instance_row_ids:
        return {}
    q = select(OdkInstance.id, OdkInstance.xml).where(OdkInstance.id.in_(instance_row_ids))
    return {row.id: row.xml for row in db.session.execute(q)}


def count_edits(submission_ids: list[int]) -> dict[int, int]:
    """How many instances beyond the first each submission has."""
    if not submission_ids:
        return {}
    q = select(OdkInstance.submission_id).where(OdkInstance.submission_id.in_(submission_ids))
    counts: dict[int, int] = {}
    for (submission_id,) in db.session.execute(q):
        counts[submission_id] = counts.get(submission_id, 0) + 1
    return {key: value - 1 for key, value in counts.items()}


def list_attachments(instance_row_ids: list[int]) -> dict[int, dict[str, OdkAttachment]]:
    """The stored attachments of each instance row, by name."""
    if not instance_row_ids:
        return {}
    q = select(OdkAttachment).where(OdkAttachment.instance_row_id.in_(instance_row_ids))
    found: dict[int, dict[str, OdkAttachment]] = {}
    for row in db.session.execute(q).scalars():
        found.setdefault(row.instance_row_id, {})[row.name] = row
    return found


def save_attachment(
    instance_row_id: int, name: str, sha256: str, size: int, content_type: str, now: datetime
) -> bool:
    """Keep an attachment of an instance; False (and nothing written) when it already has one
    by that name: a re-sent file is the same answer, and the first copy stays."""
    q = select(OdkAttachment.id).where(
        OdkAttachment.instance_row_id == instance_row_id, OdkAttachment.name == name
    )
    if db.session.execute(q).first() is not None:
        return False
    db.session.add(
        OdkAttachment(
            instance_row_id=instance_row_id,
            name=name,
            sha256=sha256,
            size=size,
            content_type=content_type,
            received_at=now,
        )
    )
    db.session.flush()
    return True


def list_submitter_names(user_ids: Iterable[int]) -> dict[int, str]:
    """Display names (or usernames) of submitters, by user id."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    q = select(User.id, User.username, User.display_name).where(User.id.in_(ids))
    return {row.id: row.display_name or row.username for row in db.session.execute(q)}


def get_accepted_instance(entity: str, record_id: str) -> OdkInstance | None:
    """The latest instance the engine accepted for a record (a registration's form), or None.

    Only an accepted instance wrote the record: a refused one, or one of a submission that
    never reached the record, has nothing to do with it, whatever ids its XML names.
    """
    q = (
        select(OdkInstance)
        .join(OdkSubmission, OdkSubmission.id == OdkInstance.submission_id)
        .where(
            OdkSubmission.entity == entity,
            OdkSubmission.record_id == record_id,
            OdkInstance.outcome == ACCEPTED,
        )
        .order_by(OdkInstance.received_at.desc(), OdkInstance.id.desc())
        .limit(1)
    )
    return db.session.execute(q).scalar_one_or_none()


def list_instances_about(entity: str, record_id: str) -> list[OdkInstance]:
    """The accepted instances of submissions about one record, oldest first.

    A household is named by its registrations' submissions (``household_id``); a support
    item or payout is the main record of its visit's or receipt's submission.
    """
    about = (
        OdkSubmission.household_id == record_id
        if entity == "households"
        else (OdkSubmission.entity == entity) & (OdkSubmission.record_id == record_id)
    )
    q = (
        select(OdkInstance)
        .join(OdkSubmission, OdkSubmission.id == OdkInstance.submission_id)
        .where(about, OdkInstance.outcome == "accepted")
        .order_by(OdkInstance.received_at, OdkInstance.id)
    )
    return list(db.session.execute(q).scalars())


def list_comments(submission_id: int) -> list[OdkComment]:
    """The submission's comments, oldest first."""
    q = (
        select(OdkComment)
        .where(OdkComment.submission_id == submission_id)
        .order_by(OdkComment.created_at, OdkComment.id)
    )
    return list(db.session.execute(q).scalars())


def create_comment(submission_id: int, actor_id: int, body: str, now: datetime) -> OdkComment:
    comment = OdkComment(submission_id=submission_id, actor_id=actor_id, body=body, created_at=now)
    db.session.add(comment)
    db.session.flush()
    return comment
