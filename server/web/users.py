"""The admin's accounts page, and every user's own password page.

``/web/users`` lists every account with its role, unit and state; each row changes role and
unit, deactivates or reactivates, and resets the password. ``/web/password`` lets anyone
signed in change their own. Every act goes through ``server.auth.accounts`` like the command
line's and the API's: checked, audited, and ending the user's tokens and page sessions.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from server.auth import accounts
from server.auth.logins import authenticate_password
from server.auth.views import client_address
from server.clock import utcnow
from server.errors import APIError
from server.extensions import db
from server.models import ROLES, User
from server.store import accounts as store
from server.store import units as unit_store
from server.web import blp
from server.web.language import t
from server.web.sessions import page_user, require_page, sign_in
from sync.lifecycles import MANAGE_ACCOUNTS, roles_for


def operator() -> accounts.Operator:
    admin = page_user()
    return accounts.Operator(admin.username, admin.id, f"web-{admin.username}")


def existing_user(username: str) -> User:
    user = store.get_user_by_username(username)
    if user is None:
        abort(404)
    return user


def back_to_list():
    return redirect(url_for("pages.users"))


@blp.route("/users")
@require_page(*roles_for(MANAGE_ACCOUNTS))
def users():
    """Every account, by username, with what an admin can change."""
    units = {unit.code: unit for unit in unit_store.list_units()}
    return render_template("web/users.html", users=store.list_users(), units=units, roles=ROLES)


@blp.route("/users/<username>/role", methods=["POST"])
@require_page(*roles_for(MANAGE_ACCOUNTS))
def set_role(username: str):
    user = existing_user(username)
    role, unit_code = request.form.get("role", ""), request.form.get("unit", "").strip()
    if user.id == page_user().id and role != "admin":
        flash(t("users.not_yourself"), "error")
        return back_to_list()
    try:
        changed = accounts.set_role(operator(), user, role, unit_code or None)
    except accounts.AccountRefused as refusal:
        db.session.rollback()
        flash(t("users.refused", reason=str(refusal)), "error")
        return back_to_list()
    db.session.commit()
    if changed:
        flash(t("users.role_set", username=username, role=t(f"role.{role}"), unit=user.unit_code))
    return back_to_list()


@blp.route("/users/<username>/active", methods=["POST"])
@require_page(*roles_for(MANAGE_ACCOUNTS))
def set_active(username: str):
    user = existing_user(username)
    active = request.form.get("active") == "yes"
    if user.id == page_user().id and not active:
        flash(t("users.not_yourself"), "error")
        return back_to_list()
    if accounts.set_active(operator(), user, active):
        db.session.commit()
        flash(t("users.reactivated" if active else "users.deactivated", username=username))
    return back_to_list()


@blp.route("/users/<username>/password", methods=["POST"])
@require_page(*roles_for(MANAGE_ACCOUNTS))
def reset_password(username: str):
    user = existing_user(username)
    try:
        accounts.set_password(operator(), user, request.form.get("password", ""))
    except accounts.AccountRefused:
        db.session.rollback()
        flash(t("password.too_short", length=accounts.MIN_PASSWORD), "error")
        return back_to_list()
    if user.id == page_user().id:
        sign_in(user)  # the admin's own session ended with the others: start a new one
    db.session.commit()
    flash(t("users.password_reset", username=username))
    return back_to_list()


@blp.route("/password", methods=["GET", "POST"])
@require_page()
def own_password():
    """Change one's own password: every other session and token ends; this page stays signed in."""
    if request.method == "GET":
        return render_template("web/password.html")
    user, now = page_user(), utcnow()
    current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
    try:  # the current password is a login: wrong guesses are throttled like any other
        authenticate_password(user.username, current, client_address(), now)
    except APIError as refusal:
        db.session.commit()  # keep the failure
        throttled = refusal.code == "too_many_requests"
        error = t("login.throttled", minutes=max(1, refusal.details.get("retry_after", 60) // 60))
        return render_template("web/password.html", error=error if throttled else t("password.wrong")), (
            429 if throttled else 400
        )
    if new != request.form.get("repeat_password", ""):
        return render_template("web/password.html", error=t("password.differ")), 400
    try:
        accounts.set_password(
            accounts.Operator(user.username, user.id, f"web-{user.username}"), user, new, own=True
        )
    except accounts.AccountRefused:
        db.session.rollback()
        return render_template(
            "web/password.html", error=t("password.too_short", length=accounts.MIN_PASSWORD)
        ), 400
    sign_in(user)
    db.session.commit()
    flash(t("password.changed"))
    return redirect(url_for("pages.home"))
