"""The Flask extensions, created unbound and attached in ``create_app``."""

from flask import has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: Key in ``Session.info``: the engine every further statement of this session runs on.
READ_ENGINE = "read_engine"


class RoutedSession(Session):
    """Flask-SQLAlchemy's session, sent to another engine once ``server.replica`` says so.

    ``server.replica.read_on_replica`` puts the replica's engine in ``info[READ_ENGINE]``;
    from then on the request's statements run there (the session keeps its connection to
    the primary, where authentication already read). Nothing else ever sets it.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and (engine := self.info.get(READ_ENGINE)) is not None:
            return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutedSession})
migrate = Migrate()


@event.listens_for(Engine, "connect")
def configure_sqlite(dbapi_connection, _record) -> None:
    """WAL lets readers work while one writer commits; foreign keys are off by default in SQLite."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # pysqlite's own transaction handling would defer BEGIN; we issue BEGIN ourselves (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@event.listens_for(Engine, "begin")
def begin_sqlite(conn) -> None:
    """Every SQLite transaction takes the write lock up front (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes can fail with "database is locked"
    when another writer got there first; taking the lock at BEGIN makes writers queue
    instead, which is what a sync push needs. GET requests only read, and WAL lets them
    read beside the writer, so they begin deferred.
    """
    if conn.dialect.name != "sqlite":
        return
    reading = has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
    conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
