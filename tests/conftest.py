"""Fixtures: ``app``, ``client``, ``runner``, and ``auth`` to act as a user of any role.

The schema is built once per run by the real migrations (so every run also proves that
``flask db upgrade`` reaches the models), the province's units are loaded once, and every
test starts from otherwise empty tables. ``DATABASE_URL`` selects PostgreSQL; unset means
a SQLite file in a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, text

from server import create_app
from server.auth.passwords import set_test_cost
from server.cli import DATA, add_user, load_units_file
from server.extensions import db

# Default home units per role: Trà Đốc commune in Bắc Trà My district (515), Quảng Nam (49).
HOME = {
    "collaborator": "20920",
    "commune_official": "20920",
    "district_officer": "515",
    "supervisor": "49",
    "admin": "49",
}
PASSWORD = "correct horse battery"
KEEP = {"units", "alembic_version"}


def database_url_for_tests(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    set_test_cost()
    root = tmp_path_factory.mktemp("instance")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url_for_tests(tmp_path_factory),
            "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
            "ATTACHMENT_DIR": str(root / "attachments"),
        }
    )
    with app.app_context():
        drop_everything()
        upgrade(directory=app.extensions["migrate"].directory)
        load_units_file(str(DATA / "quang_nam_units_2020.csv"))
    return app


def drop_everything() -> None:
    """Start a run from an empty database, whatever an earlier run left behind."""
    meta = MetaData()
    meta.reflect(bind=db.engine)
    meta.drop_all(bind=db.engine)
    db.session.commit()


def table_names() -> list[str]:
    return [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP]


@pytest.fixture(autouse=True)
def clean_tables(request):
    """Empty every table but the units before each test that uses the app."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        names = table_names()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                db.session.execute(text(f"DELETE FROM {name}"))
        db.session.commit()
        db.session.remove()
    yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Make users and log in as them: ``auth.headers("collaborator")``."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def user(
        self, role: str, unit: str | None = None, username: str | None = None, password: str = PASSWORD
    ) -> str:
        username = username or f"{role}-{uuid.uuid4().hex[:8]}"
        with self.app.app_context():
            add_user(username, role, unit or HOME[role], password)
            db.session.commit()
        return username

    def tokens(self, username: str, password: str = PASSWORD) -> dict:
        resp = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def headers(self, role: str | None = None, unit: str | None = None, username: str | None = None) -> dict:
        """Bearer headers for an existing ``username``, or a new user of ``role`` in ``unit``."""
        if username is None:
            username = self.user(role, unit)
        return {"Authorization": f"Bearer {self.tokens(username)['access_token']}"}


@pytest.fixture
def auth(app, client):
    return AuthActions(app, client)


@pytest.fixture
def data_dir() -> Path:
    return DATA
