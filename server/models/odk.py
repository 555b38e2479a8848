"""ODK submissions as received: every instance's XML, its attachments, and what it became.

A *submission* is what ODK Central calls one: the first instance a phone sent (its
``instanceID`` is the submission's ``instanceId`` for ever) and every edit of it, each edit an
instance of its own naming the one it replaces (``deprecatedID``). The records the engine
wrote from them live in the record tables like any pushed change; these tables keep the
forms themselves, so nothing a collaborator typed is lost, even when the engine refused it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import JSONType, UTCDateTime


class OdkSubmission(db.Model):
    """One submission: its first instance, its current instance and the record it writes."""

    __tablename__ = "odk_submissions"
    __table_args__ = (Index("ix_odk_submissions_form_created", "form_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(64), unique=True)  # the first instance's
    current_instance_id: Mapped[str] = mapped_column(String(64))
    # The record the form is about: the registration (whose id is the first instance's
    # UUID), the support item of a follow-up visit, the payout of a receipt.
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(36), index=True)
    household_id: Mapped[str | None] = mapped_column(String(36))
    submitter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(120))
    instance_name: Mapped[str | None] = mapped_column(String(255))
    # Where the submission belongs, for scoping reads: the record's unit once it exists.
    commune_code: Mapped[str | None] = mapped_column(String(16), index=True)
    district_code: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OdkInstance(db.Model):
    """One instance of a submission (the first one or an edit), byte for byte as received.

    ``outcome`` is ``accepted`` when the engine took every change the instance made,
    ``rejected`` when it refused one (then nothing of it was applied) or the answers could
    not be read; ``results`` holds the engine's per-change results (the versions produced)
    or the refusal.
    """

    __tablename__ = "odk_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("odk_submissions.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(64), unique=True)
    deprecated_id: Mapped[str | None] = mapped_column(String(64))
    form_version: Mapped[str | None] = mapped_column(String(64))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    submitter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    results: Mapped[dict] = mapped_column(JSONType)
    # The file names the instance's file questions answer: the attachments it expects.
    expected_attachments: Mapped[list] = mapped_column(JSONType)


class OdkAttachment(db.Model):
    """An attachment of an instance; the bytes live on disk, named by their SHA-256."""

    __tablename__ = "odk_attachments"
    __table_args__ = (UniqueConstraint("instance_row_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_row_id: Mapped[int] = mapped_column(ForeignKey("odk_instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OdkComment(db.Model):
    """A comment on a submission (ODK Central's ``…/submissions/<instanceId>/comments``).

    The comment a commune official posts with a review (pyodk's ``review(…, comment=)``) is
    also the decision's note on the registration, which the collaborator's phone shows.
    """

    __tablename__ = "odk_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("odk_submissions.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
