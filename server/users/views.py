"""``/api/v1/users``: accounts, listed for admins and supervisors, managed by admins.

Each change goes through ``server.auth.accounts`` (as the command line's and the admin
page's do): checked, audited, and - for a new password, role or unit, or a deactivation -
ending every token and page session the user had. Passwords are never returned.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.users import PasswordReset, UserChange, UserCreate, UserOut
from server.auth import accounts
from server.auth.current import current_user, require_roles
from server.errors import APIError
from server.extensions import db
from server.models import User
from server.store import accounts as store
from sync.lifecycles import MANAGE_ACCOUNTS, READ_ACCOUNTS, roles_for

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Accounts")

READERS = roles_for(READ_ACCOUNTS)
ADMINS = roles_for(MANAGE_ACCOUNTS)


def operator() -> accounts.Operator:
    user = current_user()
    return accounts.Operator(user.username, user.id, "api")


def existing_user(username: str) -> User:
    user = store.get_user_by_username(username)
    if user is None:
        raise APIError("not_found", f"No user {username}.")
    return user


def refuse_own_lockout(user: User, change: dict) -> None:
    """An admin cannot demote nor deactivate themselves here (no province without an admin)."""
    if user.id != current_user().id:
        return
    if change.get("active") is False or change.get("role", "admin") != "admin":
        raise APIError("conflict", "You cannot deactivate yourself or give up your own admin role.")


@blp.route("")
class Users(MethodView):
    @blp.response(200, UserOut(many=True))
    @require_roles(*READERS)
    def get(self):
        """Every account, by username (admins and supervisors only)."""
        return store.list_users()

    @blp.arguments(UserCreate)
    @blp.response(201, UserOut)
    @blp.alt_response(422, description="validation_error: role, unit, username or password refused")
    @require_roles(*ADMINS)
    def post(self, body):
        """Create an account (audited)."""
        user = accounts.create_account(
            operator(), body["username"], body["role"], body["unit"], body["password"], body["display_name"]
        )
        db.session.commit()
        return user


@blp.route("/<string(maxlength=80):username>")
class UserAccount(MethodView):
    @blp.response(200, UserOut)
    @require_roles(*READERS)
    def get(self, username):
        """One account."""
        return existing_user(username)

    @blp.arguments(UserChange)
    @blp.response(200, UserOut)
    @blp.alt_response(409, description="conflict: an admin demoting or deactivating themselves")
    @blp.alt_response(422, description="validation_error: a role that does not fit the unit")
    @require_roles(*ADMINS)
    def patch(self, body, username):
        """Change role, unit, active or display name; a new role or unit and a deactivation
        end every token and page session the user had (audited)."""
        user = existing_user(username)
        refuse_own_lockout(user, body)
        by = operator()
        if "role" in body or "unit" in body:
            accounts.set_role(by, user, body.get("role"), body.get("unit"))
        if "active" in body:
            accounts.set_active(by, user, body["active"])
        if "display_name" in body:
            accounts.set_display_name(by, user, body["display_name"])
        db.session.commit()
        return user


@blp.route("/<string(maxlength=80):username>/password")
class UserPassword(MethodView):
    @blp.arguments(PasswordReset)
    @blp.response(204)
    @blp.alt_response(422, description="validation_error: a password shorter than 8 characters")
    @require_roles(*ADMINS)
    def post(self, body, username):
        """Reset a user's password; every token and page session the user had ends (audited)."""
        accounts.set_password(operator(), existing_user(username), body["password"])
        db.session.commit()
