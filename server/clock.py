"""The server's clock and the programme's calendar day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    return datetime.now(UTC)


def programme_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def programme_day(moment: datetime) -> date:
    """The calendar day of a server event in the programme's time zone (Asia/Ho_Chi_Minh)."""
    return moment.astimezone(programme_zone()).date()


def today() -> date:
    return programme_day(utcnow())
