"""Logging in and out of the pages, and the start page each role lands on."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from server.auth.logins import authenticate_password
from server.auth.views import client_address
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.store import approvals as approval_store
from server.web import PREFIX, blp
from server.web.language import t
from server.web.sessions import page_scope, page_user, require_page, sign_in, sign_out
from sync.actors import ADMIN, COMMUNE_OFFICIAL, DISTRICT_OFFICER, SUPERVISOR
from sync.lifecycles import RETURNED

# Where each role starts: the page of its daily work.
START_PAGES = {
    COMMUNE_OFFICIAL: "pages.approvals",
    DISTRICT_OFFICER: "pages.households",
    SUPERVISOR: "pages.dashboard",
    ADMIN: "pages.dashboard",
}


def safe_next(target: str | None) -> str | None:
    """Only a path of our own pages: never another site (an open redirect)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@blp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a good password starts a page session."""
    if request.method == "GET":
        if page_user() is not None:
            return redirect(url_for("pages.home"))
        return render_template("web/login.html", next=safe_next(request.args.get("next")))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    try:
        user = authenticate_password(username, password, client_address(), utcnow())
    except APIError as refusal:
        db.session.commit()  # keep the failure: it counts towards throttling, API and pages alike
        if refusal.code == "too_many_requests":
            minutes = max(1, refusal.details["retry_after"] // 60)
            message, status = t("login.throttled", minutes=minutes), 429
        else:
            message, status = t("login.invalid"), 401
        page = render_template("web/login.html", next=target, error=message, username=username)
        return page, status, refusal.headers
    sign_in(user)
    db.session.commit()
    return redirect(target or url_for("pages.home"))


@blp.route("/logout", methods=["POST"])
def logout():
    """End the session on the server: a copy of the cookie is refused from now on."""
    sign_out()
    db.session.commit()
    flash(t("login.done"))
    return redirect(url_for("pages.login"))


@blp.route("/")
@require_page()
def home():
    """Officials go to their desk; a collaborator sees the commune's returned forms."""
    user = page_user()
    if user.role in START_PAGES:
        return redirect(url_for(START_PAGES[user.role]))
    returned = approval_store.list_registrations_by_status(page_scope(), RETURNED)
    return render_template("web/home.html", returned=returned)
