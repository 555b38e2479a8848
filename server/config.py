"""Settings, read from the environment once when the app is created.

Every setting has a default that suits a newcomer's laptop; production sets
``FIELDSYNC_ENV=production`` (the default) and must then provide ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from server import jsontext

DEFAULTS = {
    "ACCESS_TOKEN_TTL": 15 * 60,  # seconds; short, a phone refreshes it
    "REFRESH_TOKEN_TTL": 30 * 24 * 3600,  # must outlive a week offline in the mountains
    "APPROVAL_OVERDUE_DAYS": 15,
    "COLLABORATOR_SILENT_DAYS": 30,
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "PUSH_MAX_CHANGES": 500,
    "PUSH_MAX_BYTES": 5 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,  # ODK attachments; push has its own 5 MiB limit
    # Request bodies per route (server/bodies.py): login, refresh, decisions, conflict
    # resolutions a few KiB; routes not named there this much. Decoded bytes when gzipped.
    "SMALL_BODY_MAX_BYTES": 16 * 1024,
    "BODY_MAX_BYTES": 1024 * 1024,
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "LOGIN_MAX_FAILURES": 5,  # per username and per address, within the window
    "LOGIN_FAILURE_WINDOW": 15 * 60,
    "ODK_SESSION_TTL": 24 * 3600,  # a pyodk / ODK Central session token, like Central's own
    # Answer compression levels (flask-compress's names), chosen by measurement: server/compression.py.
    "COMPRESS_ZSTD_LEVEL": 9,
    "COMPRESS_BR_LEVEL": 4,
    "COMPRESS_LEVEL": 6,  # gzip
    "ODK_PROJECT_NAME": "Đăng ký thoát nghèo bền vững - Quảng Nam",  # the one ODK project
    "TRUSTED_PROXIES": "",  # addresses/networks whose X-Forwarded-For is believed (server/proxies.py)
    # Seconds a read replica may trail the primary before its routes read the primary instead.
    "REPLICA_MAX_LAG": 30,
}
INT_SETTINGS = {k for k, v in DEFAULTS.items() if isinstance(v, int)}


class ConfigurationError(RuntimeError):
    """The environment does not describe a server that may start."""


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from defaults, the environment and ``overrides``."""
    env = os.environ
    settings: dict = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in env:
            settings[key] = int(env[key]) if key in INT_SETTINGS else env[key]
    settings["ENV_NAME"] = env.get("FIELDSYNC_ENV", "production")
    settings["ATTACHMENT_DIR"] = env.get("ATTACHMENT_DIR", str(Path(instance_path) / "attachments"))
    url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'fieldsync.db'}"
    settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(url)
    settings["SECRET_KEY"] = env.get("SECRET_KEY")
    # A PEM Ed25519 private key that signs push receipts; unset: one made in the instance folder.
    settings["RECEIPT_KEY_FILE"] = env.get("RECEIPT_KEY_FILE")
    settings.update(overrides or {})
    settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(settings["SQLALCHEMY_DATABASE_URI"])
    if not settings.get("SECRET_KEY"):
        if settings["ENV_NAME"] == "production" and not settings.get("TESTING"):
            raise ConfigurationError(
                "SECRET_KEY is not set. It signs every token: set it to a long random value "
                "(or FIELDSYNC_ENV=development on a laptop)."
            )
        settings["SECRET_KEY"] = development_secret(instance_path)
    # The pages' session cookie travels over HTTPS only in production; a provincial office
    # serving plain HTTP on its own network may say SESSION_COOKIE_SECURE=no.
    secure = env.get("SESSION_COOKIE_SECURE")
    settings.setdefault(
        "SESSION_COOKIE_SECURE",
        secure.lower() in ("1", "yes", "true")
        if secure is not None
        else settings["ENV_NAME"] == "production" and not settings.get("TESTING"),
    )
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings["SQLALCHEMY_DATABASE_URI"])
    settings.setdefault("DATABASE_REPLICA_URL", env.get("DATABASE_REPLICA_URL") or None)
    if settings["DATABASE_REPLICA_URL"]:
        settings["SQLALCHEMY_BINDS"] = {REPLICA_BIND: replica_bind(settings)}
    return settings


#: The Flask-SQLAlchemy bind of the read replica (``server/replica.py`` routes reads to it).
REPLICA_BIND = "replica"
#: Seconds to wait for a connection to the replica before its routes read the primary.
REPLICA_CONNECT_TIMEOUT = 2


def replica_bind(settings: dict) -> dict:
    """The engine of ``DATABASE_REPLICA_URL``: a PostgreSQL hot standby of the primary, read
    in read-only REPEATABLE READ transactions (one snapshot per answer), a short connect timeout."""
    url = normalise_database_url(settings["DATABASE_REPLICA_URL"])
    if not (url.startswith("postgresql") and settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")):
        raise ConfigurationError(
            "DATABASE_REPLICA_URL needs PostgreSQL for both the primary (DATABASE_URL) and the "
            "replica (a streaming hot standby); unset it on SQLite."
        )
    options = engine_options(url)
    connect_args = options["connect_args"]
    return {
        **options,
        "url": url,
        "isolation_level": "REPEATABLE READ",
        "connect_args": {
            **connect_args,
            "options": connect_args["options"] + " -c default_transaction_read_only=on",
            "connect_timeout": REPLICA_CONNECT_TIMEOUT,
        },
    }


def development_secret(instance_path: str) -> str:
    """A per-instance key kept on disk, so every worker of a dev server signs alike."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def engine_options(url: str) -> dict:
    # orjson for JSON columns: every push writes each record's data, its audit before/after
    # and the stored answer, and the standard library's encoder was a visible share of it.
    json_options = {"json_serializer": jsontext.dumps_text}
    if url.startswith("sqlite"):
        # A writer waits for the lock instead of failing at once.
        return {"connect_args": {"timeout": 30}, **json_options}
    # pre-ping: a restarted PostgreSQL costs one failed check, not a crashed request.
    # jit off: our statements are short or index-driven; PostgreSQL's JIT compiles for
    # ~100 ms on every large report and earns nothing back (measured on the delay audit).
    return {
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "connect_args": {"options": "-c jit=off"},
        **json_options,
    }
