"""FieldSync's Flask application: ``create_app`` wires settings, extensions and blueprints."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from flask_smorest import Api

from schemas.errors import ErrorEnvelope
from server import bodies, compression, inputs, replica
from server.config import load_settings
from server.errors import register_error_handlers
from server.extensions import db, migrate
from server.proxies import TrustedProxies, parse_trusted_proxies
from server.receipts.keys import load_receipt_key

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


class DocumentedApi(Api):
    """flask-smorest's Api, documenting every error as the contract's envelope.

    Without this the OpenAPI document describes flask-smorest's own error body
    (``{"code": 422, "status": ..., "errors": ...}``), which no response of ours has.
    """

    ERROR_SCHEMA = ErrorEnvelope


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings from the environment (tests use it)."""
    app = Flask(__name__, instance_path=os.environ.get("FIELDSYNC_INSTANCE") or None)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_settings(app.instance_path, config))
    app.config.update(
        API_TITLE="FieldSync",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    # First registered, so its after_request runs last and compresses the final body of every
    # answer, errors included (Flask runs app-level after_request functions in reverse order).
    compression.init_app(app)
    # Bodies bounded per route and gzip-decoded before anything reads them; its before_request
    # is the first, so a refused body is refused before any parsing or authentication.
    bodies.init_app(app)
    # Outermost: every layer below sees the client's address, never a forged one.
    networks = parse_trusted_proxies(app.config["TRUSTED_PROXIES"])
    app.wsgi_app = TrustedProxies(app.wsgi_app, networks)
    inputs.init_app(app)  # strict JSON bodies (UTF-8 out, no NaN, no NUL, bounded nesting)
    logging.basicConfig(level=logging.INFO)

    import server.models  # noqa: F401 - every table known to SQLAlchemy and Alembic

    db.init_app(app)
    replica.init_app(app)  # the supervisors' reads on DATABASE_REPLICA_URL, when set
    # The key that signs push receipts, read (or made, in the instance folder) once.
    app.extensions["receipt_key"] = load_receipt_key(app.config.get("RECEIPT_KEY_FILE"), app.instance_path)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    api = DocumentedApi(app)  # one per app: its OpenAPI spec belongs to this app
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    register_blueprints(api)
    register_pages(app)
    register_odk_routes(app)
    register_error_handlers(app)  # after api.init_app: ours replace smorest's handlers
    from server.auth.current import authorize_before_parsing

    app.before_request(authorize_before_parsing)  # 401/403 before any argument is read

    from server.cli import register_commands

    register_commands(app)
    return app


def register_blueprints(api: Api) -> None:
    """Every blueprint of the app; JSON ones through flask-smorest so they are documented."""
    from server.audit.views import blp as audit
    from server.auth.views import blp as auth
    from server.collaborators.views import blp as collaborators
    from server.conflicts.views import blp as conflicts
    from server.decisions.views import blp as decisions
    from server.delays.views import blp as delays
    from server.device_tokens.views import blp as device_tokens
    from server.duplicates.views import blp as duplicates
    from server.entities.views import blp as entities
    from server.receipts.views import blp as receipts
    from server.reports.views import blp as reports
    from server.sync.views import blp as sync_views
    from server.units.views import blp as units
    from server.users.views import blp as users

    blueprints = (
        auth, units, sync_views, conflicts, decisions, delays, entities, audit, collaborators, reports
    )
    for blueprint in (*blueprints, duplicates, users, device_tokens, receipts):
        api.register_blueprint(blueprint)


def register_pages(app: Flask) -> None:
    """The server-rendered pages (/web): plain Flask, not in the OpenAPI document."""
    from server import offline_app, web
    from server.uploads.views import blp as uploads

    web.init_app(app)
    offline_app.init_app(app)
    app.register_blueprint(uploads)  # tus 1.0: binary bodies, not JSON, so plain Flask


def register_odk_routes(app: Flask) -> None:
    """ODK's routes at ``/v1``: OpenRosa (XML) for Collect and Enketo, ODK Central's REST
    layout for pyodk. Plain Flask blueprints: they are not the JSON API and stay out of its
    OpenAPI document; each family registers its own error shape."""
    from server import central, openrosa

    openrosa.init_app(app)  # first: its routes are the more specific under /v1
    central.init_app(app)
