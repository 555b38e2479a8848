"""The record store writes versions, keeps history and orders the pull index by commit."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server.extensions import db
from server.models import Household, RecordVersion, SyncIndex
from server.store import records

T0 = datetime(2020, 5, 2, 1, 0, tzinfo=UTC)
HH = {
    "code": "HN-001",
    "commune_code": "20920",
    "village": "Thôn 1",
    "head_name": "Hồ Văn A",
    "members": 4,
    "category": "poor",
    "ethnic_minority": True,
}


def write(version, data, at, deleted=False):
    return records.VersionWrite("households", "h1", version, data, deleted, "20920", "515", at)


def test_versions_are_kept_with_their_validity(app):
    with app.app_context():
        records.save_versions([write(1, HH, T0)])
        records.assign_sequences()
        db.session.commit()
        records.save_versions([write(2, {**HH, "members": 5}, T0 + timedelta(days=1))])
        records.assign_sequences()
        db.session.commit()
        rows = db.session.execute(select(RecordVersion).order_by(RecordVersion.version)).scalars().all()
        assert [(r.version, r.data["members"]) for r in rows] == [(1, 4), (2, 5)]
        assert rows[0].valid_to == T0 + timedelta(days=1) and rows[1].valid_to is None
        current = db.session.get(Household, "h1")
        assert current.version == 2 and current.members == 5 and current.created_at == T0
        assert records.get_current("households", ["h1"])["h1"].version == 2
        assert records.get_versions("households", [("h1", 1)])[("h1", 1)].data["members"] == 4


def test_each_commit_takes_later_sequences(app):
    with app.app_context():
        records.save_versions([write(1, HH, T0)])
        first = records.assign_sequences()
        db.session.commit()
        records.save_versions([write(2, HH, T0), write(3, {**HH, "village": "Thôn 2"}, T0)])
        second = records.assign_sequences()
        db.session.commit()
        assert second > first
        index = db.session.execute(select(SyncIndex)).scalars().one()
        assert (index.version, index.seq) == (3, second)
