"""Server-rendered pages for commune officials, district officers and supervisors, under /web.

Jinja templates, one stylesheet and no script from anywhere else: the pages work offline-ish
in a provincial office, on a cheap laptop or a phone. Vietnamese first, English on request
(``?lang=en``). The pages log in with the same accounts as the API but keep the login in a
session cookie (see ``server.web.sessions``); every page is scoped exactly as the API is, and
every write goes through the sync engine like a phone's (``server.web.writes``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, make_response, redirect, render_template, request, url_for

from server.errors import APIError, register_error_shape
from server.web.language import (
    current_language,
    format_day,
    format_moment,
    format_money,
    format_number,
    remember_language,
    t,
)
from server.web.messages import has_text
from server.web.sessions import check_csrf, configure_cookies, csrf_token, page_may, page_user
from server.web.writes import new_batch_id

PREFIX = "/web"
blp = Blueprint(
    "pages",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
# Only our own files, never framed (an approve button under someone else's page is a click
# away from a forged decision); inline style attributes draw the dashboard's bars.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def protect_page(response):
    """Security headers on every page; no copy of a page kept on a shared office computer."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


blp.before_request(check_csrf)
blp.after_request(remember_language)
blp.after_request(protect_page)


def init_app(app: Flask) -> None:
    """Register the pages, their cookies, their template helpers and their error pages."""
    from server.web import (  # noqa: F401 - the routes
        accounts,
        approvals,
        audit,
        conflicts,
        dashboard,
        downloads,
        duplicates,
        households,
        photos,
        users,
    )

    configure_cookies(app)
    app.register_blueprint(blp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("pages.home")))
    app.jinja_env.globals.update(
        _=t,
        csrf_token=csrf_token,
        page_user=page_user,
        page_may=page_may,
        language=current_language,
        url_with=url_with,
        new_batch_id=new_batch_id,
    )
    app.jinja_env.filters.update(
        money=format_money, number=format_number, day=format_day, moment=format_moment
    )
    register_error_shape(app, PREFIX + "/", render_error_page, blueprint=blp.name)


def render_error_page(err: APIError):
    """An error as a page in the visitor's language; the API's message is not shown to them."""
    code, status = err.code, err.status
    text = t(f"error.{code}") if has_text(f"error.{code}") else t("error.other", code=code)
    try:
        page = render_template("web/error.html", code=code, text=text, status=status)
    except Exception:  # the page itself failed (the database is down): say it plainly
        page = f'<!doctype html><meta charset="utf-8"><h1>{status}</h1><p data-error-code="{code}">{text}</p>'
    return protect_page(make_response(page, status))


def url_with(**changes: object) -> str:
    """This page's URL with some query arguments changed (None removes one)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update({k: v for k, v in changes.items() if v is not None})
    return request.path + ("?" + urlencode(args) if args else "")
