"""SQL for resumable uploads (``server/models/uploads.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from server.extensions import db
from server.models import Upload


def create_upload(upload: Upload) -> None:
    db.session.add(upload)
    db.session.flush()


def get_upload(upload_id: str, user_id: int) -> Upload | None:
    """The upload with this id if it is this user's own (anyone else's does not exist)."""
    q = select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
    return db.session.execute(q).scalar_one_or_none()


def advance_upload(upload_id: str, expected: int, received: int, at: datetime) -> bool:
    """Move the offset from ``expected`` to ``received``; False when another request moved it."""
    stmt = (
        update(Upload)
        .where(Upload.id == upload_id, Upload.received == expected)
        .values(received=received, updated_at=at)
    )
    return db.session.execute(stmt).rowcount == 1


def complete_upload(
    upload_id: str, sha256: str, content_type: str, result: dict | None, at: datetime
) -> None:
    stmt = (
        update(Upload)
        .where(Upload.id == upload_id)
        .values(sha256=sha256, content_type=content_type, result=result, completed_at=at, updated_at=at)
    )
    db.session.execute(stmt)


def get_file_of_record(entity: str, record_id: str, sha256: str) -> Upload | None:
    """A finished upload of these bytes for this record (the photo a registration names)."""
    q = (
        select(Upload)
        .where(
            Upload.entity == entity,
            Upload.record_id == record_id,
            Upload.sha256 == sha256,
            Upload.completed_at.is_not(None),
        )
        .limit(1)
    )
    return db.session.execute(q).scalar_one_or_none()
