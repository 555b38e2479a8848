"""The migration that brings possible duplicates gives every household already stored its match
keys, so a household registered before it is found as a duplicate like a new one."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from server.extensions import db
from tests.test_backup import sqlite_app

BEFORE = "d5e8a1f3b7c2"  # the revision before the household match keys


def test_households_stored_before_the_migration_get_their_keys(tmp_path):
    app = sqlite_app(tmp_path / "old.db")
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory, revision=BEFORE)
        db.session.execute(
            text(
                "INSERT INTO households (id, version, deleted, created_at, updated_at, commune_code, "
                "district_code, code, village, head_name, members, category, ethnic_minority, phone) "
                "VALUES ('h1', 1, 0, '2020-05-02 03:00:00', '2020-05-02 03:00:00', '20920', '515', "
                "'HH-1', 'Thôn 2', 'Đinh Thị  Xuân Lan', 4, 'poor', 1, '+84 905 123 456')"
            )
        )
        db.session.commit()
        upgrade(directory=directory)
        row = db.session.execute(text("SELECT head_name_key, phone_key FROM households")).one()
    assert tuple(row) == ("dinh thi xuan lan", "0905123456")
