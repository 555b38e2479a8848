"""The page language (Vietnamese first; ``?lang=en`` switches and a cookie remembers) and the
way numbers, days and moments are written in it."""

from __future__ import annotations

from datetime import date, datetime

from flask import Response, g, request

from server.clock import programme_zone
from server.web.messages import DEFAULT_LANGUAGE, LANGUAGES, translate

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def current_language() -> str:
    """``?lang=`` when valid, else the cookie, else Vietnamese."""
    if "language" not in g:
        asked = request.args.get("lang")
        if asked not in LANGUAGES:
            asked = request.cookies.get(COOKIE)
        g.language = asked if asked in LANGUAGES else DEFAULT_LANGUAGE
    return g.language


def remember_language(response: Response) -> Response:
    """Keep a language chosen with ``?lang=`` in a cookie for the next pages."""
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
    return response


def t(key: str, **values: object) -> str:
    """The text of ``key`` in the page language."""
    return translate(current_language(), key, **values)


def format_money(amount: int | None) -> str:
    """VND as Vietnamese write it (5.000.000) or as English does (5,000,000)."""
    if amount is None:
        return "—"
    text = f"{int(amount):,}"
    return text.replace(",", ".") if current_language() == "vi" else text


def format_number(value: float | int | None) -> str:
    """A count or a percentage, with the language's decimal mark."""
    if value is None:
        return "—"
    text = f"{value:,}" if isinstance(value, int) else f"{float(value):,.2f}"
    if current_language() == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_day(value: date | str | None) -> str:
    """dd/mm/yyyy in Vietnamese, ISO in English."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10]) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(programme_zone()).date()
    return value.strftime("%d/%m/%Y") if current_language() == "vi" else value.isoformat()


def format_moment(value: datetime | str | None) -> str:
    """A server timestamp in the programme's time zone, to the minute."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(programme_zone())
    day = local.strftime("%d/%m/%Y") if current_language() == "vi" else local.date().isoformat()
    return f"{day} {local:%H:%M}"
