"""Rows appended in bulk (COPY on PostgreSQL) are stored exactly as an INSERT stores them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import AuditEntry
from server.store import bulk

TRICKY = {
    "head_name": 'Hồ Thị "Lan"\tback\\slash\nnew line',
    "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
}


def audit_row(record_id: str, **overrides) -> dict:
    row = {
        "at": datetime(2020, 10, 8, 2, 30, 15, 123456, tzinfo=UTC),
        "actor": "cong_tac_vien",
        "user_id": 7,
        "device_id": "phone-1",
        "batch_id": None,
        "change_id": None,
        "client_time": None,
        "action": "create",
        "entity": "households",
        "record_id": record_id,
        "version": 1,
        "before": None,
        "after": TRICKY,
        "commune_code": "20920",
        "district_code": "515",
        "made_after": None,
        "made_before": None,
    }
    row.update(overrides)
    return row


def stored(record_id: str) -> tuple:
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.record_id == record_id)).scalar_one()
    raw = db.session.execute(
        text("SELECT before IS NULL, after IS NULL FROM audit_log WHERE record_id = :r"), {"r": record_id}
    ).one()
    columns = [c.name for c in AuditEntry.__table__.columns if c.name not in ("id", "record_id")]
    return tuple(getattr(entry, c) for c in columns), tuple(raw)


def test_appended_rows_read_back_as_inserted_ones(app):
    with app.app_context():
        try:
            db.session.execute(AuditEntry.__table__.insert(), [audit_row("by-insert")])
            bulk.append(AuditEntry.__table__, [audit_row("by-append")])
            db.session.flush()
            by_insert, by_append = stored("by-insert"), stored("by-append")
            assert by_append == by_insert
            values = dict(
                zip(
                    [c.name for c in AuditEntry.__table__.columns if c.name not in ("id", "record_id")],
                    by_append[0],
                    strict=True,
                )
            )
            assert values["after"] == TRICKY and values["before"] is None
            assert values["clock_suspect"] is False  # the model's default, for a column left out
            assert values["at"] == datetime(2020, 10, 8, 2, 30, 15, 123456, tzinfo=UTC)
        finally:
            db.session.rollback()


def test_a_naive_time_or_ragged_rows_are_refused(app):
    with app.app_context():
        try:
            if db.session.connection().dialect.name == "postgresql":
                with pytest.raises(ValueError, match="naive"):
                    bulk.append(AuditEntry.__table__, [audit_row("naive", at=datetime(2020, 10, 8))])
                db.session.rollback()
                short = audit_row("short")
                del short["made_before"]
                with pytest.raises(ValueError, match="differ"):
                    bulk.append(AuditEntry.__table__, [audit_row("full"), short])
            else:  # SQLAlchemy's INSERT refuses them itself
                with pytest.raises(Exception, match="naive"):
                    bulk.append(AuditEntry.__table__, [audit_row("naive", at=datetime(2020, 10, 8))])
        finally:
            db.session.rollback()


def test_a_duplicate_key_is_an_integrity_error_as_from_an_insert(app):
    """The unit of work retries a key race on SQLAlchemy's IntegrityError: COPY raises it too."""
    with app.app_context():
        try:
            bulk.append(AuditEntry.__table__, [audit_row("first", chain_position=10**12)])
            with pytest.raises(IntegrityError):
                bulk.append(AuditEntry.__table__, [audit_row("again", chain_position=10**12)])
        finally:
            db.session.rollback()
