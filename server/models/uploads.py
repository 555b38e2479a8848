"""Resumable uploads (tus 1.0): what a phone announced and how many bytes have arrived.

The state of an upload lives here and its bytes on disk (``<ATTACHMENT_DIR>/partial/<id>``),
never in a worker's memory: any gunicorn worker, after any restart, answers ``HEAD`` with the
same offset and takes the next ``PATCH``. A finished upload's bytes move to the attachment
store under their SHA-256, like an ODK attachment's, and the record it belongs to names them
(``registrations.signed_form_photo``) through an engine change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.models.types import JSONType, UTCDateTime


class Upload(db.Model):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(120))
    # The record and field the file answers (today: a registration's signed_form_photo).
    entity: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    field: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    commune_code: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(64))
    # The engine's result for the change that linked the file to its record.
    result: Mapped[dict | None] = mapped_column(JSONType)
