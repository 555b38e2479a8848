"""Calendar arithmetic in SQL that means the same on PostgreSQL and SQLite.

Delay and activity queries work in programme days (``Asia/Ho_Chi_Minh`` by default), and
read dates and timestamps both from typed columns and from the JSON ``data`` of kept versions.
PostgreSQL has real dates, time zones and JSON operators; SQLite keeps dates as ISO text and
knows no time zones, so there the programme day of a timestamp comes from a SQL function
backed by ``zoneinfo`` (``fs_local_day``), registered on every SQLite connection. Each
construct below compiles to the native form on each dialect.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, Integer, String, cast, event, literal
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


@event.listens_for(Engine, "connect")
def register_sqlite_functions(dbapi_connection, _record) -> None:
    """Give every SQLite connection the programme-day function the queries rely on."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("fs_local_day", 2, sqlite_local_day, deterministic=True)


def sqlite_local_day(value: str | None, zone: str) -> str | None:
    """The calendar day (ISO text) of a stored timestamp in ``zone``; naive text is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


class local_day(FunctionElement):  # noqa: N801 - a SQL function, named like one
    """``local_day(timestamp, zone)``: the day of a timestamp in a time zone."""

    type = Date()
    inherit_cache = True


@compiles(local_day, "postgresql")
def _local_day_pg(element, compiler, **kw):
    moment, zone = list(element.clauses)
    return f"CAST(timezone({compiler.process(zone, **kw)}, {compiler.process(moment, **kw)}) AS DATE)"


@compiles(local_day, "sqlite")
def _local_day_sqlite(element, compiler, **kw):
    moment, zone = list(element.clauses)
    return f"fs_local_day({compiler.process(moment, **kw)}, {compiler.process(zone, **kw)})"


class days_between(FunctionElement):  # noqa: N801
    """``days_between(start, end)``: whole days from date ``start`` to date ``end``."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_between_pg(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"(CAST({compiler.process(end, **kw)} AS DATE) - CAST({compiler.process(start, **kw)} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})"
        " AS INTEGER)"
    )


class add_days(FunctionElement):  # noqa: N801
    """``add_days(day, n)``: the date ``n`` days after ``day`` (``n`` an integer)."""

    type = Date()
    inherit_cache = True


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    day, n = list(element.clauses)
    return f"(CAST({compiler.process(day, **kw)} AS DATE) + CAST({compiler.process(n, **kw)} AS INTEGER))"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, n = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, printf('%+d days', {compiler.process(n, **kw)}))"


class json_date(FunctionElement):  # noqa: N801
    """An ISO date held as JSON text, as a date (PostgreSQL) or the same ISO text (SQLite)."""

    type = Date()
    inherit_cache = True


@compiles(json_date, "postgresql")
def _json_date_pg(element, compiler, **kw):
    (text,) = list(element.clauses)
    return f"CAST({compiler.process(text, **kw)} AS DATE)"


@compiles(json_date, "sqlite")
def _json_date_sqlite(element, compiler, **kw):
    (text,) = list(element.clauses)
    return compiler.process(text, **kw)


class json_timestamp(FunctionElement):  # noqa: N801
    """An ISO timestamp held as JSON text, as a timestamptz (PostgreSQL) or text (SQLite).

    Only ever fed to ``local_day`` or compared by day: SQLite text with offsets does not order.
    """

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(json_timestamp, "postgresql")
def _json_timestamp_pg(element, compiler, **kw):
    (text,) = list(element.clauses)
    return f"CAST({compiler.process(text, **kw)} AS TIMESTAMP WITH TIME ZONE)"


@compiles(json_timestamp, "sqlite")
def _json_timestamp_sqlite(element, compiler, **kw):
    (text,) = list(element.clauses)
    return compiler.process(text, **kw)


def json_text(column, key: str) -> ColumnElement:
    """The text of one top-level key of a JSON column (``->>`` / ``json_extract``)."""
    return column[key].as_string()


def day_literal(day: date) -> ColumnElement:
    """A date parameter typed as a date on both dialects."""
    return literal(day, Date())


def zone_literal(zone: str) -> ColumnElement:
    return literal(zone, String())


def day_of(moment: ColumnElement, zone: str) -> ColumnElement:
    """The programme day of a timestamp expression."""
    return local_day(moment, zone_literal(zone))


def integer_literal(n: int) -> ColumnElement:
    return cast(literal(n, Integer()), Integer())


def end_of_day(day: date, zone: str) -> datetime:
    """The first instant after ``day`` in ``zone``, as UTC: "as it stood at the end of that day"."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
