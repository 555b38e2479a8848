"""Accounts as an admin manages them: create, re-role, move, deactivate, set passwords.

One function per act, shared by the command line (``server/cli.py``), the admin API
(``server/users/views.py``) and the admin page (``server/web/users.py``), so each act is
checked, audited and ends what it must in one place:

- a new password (the user's own change or a reset), a new role or unit, and a
  deactivation bump the user's token generation: every access, refresh and ODK session
  token and every page session issued before is refused from then on
  (``server.auth.standing``);
- every act is an entry of the audit trail (``entity`` ``users``, ``record_id`` the
  username), with the values before and after - never a password or its hash.

The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.auth.passwords import hash_password
from server.clock import utcnow
from server.models import ROLES, Unit, User
from server.store import accounts as store
from server.store import audit as audit_store
from server.store import units as unit_store

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# The level of unit each role belongs to (an admin may sit at any level).
ROLE_LEVELS = {
    "collaborator": "commune",
    "commune_official": "commune",
    "district_officer": "district",
    "supervisor": "province",
}


class AccountRefused(Exception):
    """An account change that may not be made; ``details`` names the field (422)."""

    code = "validation_error"

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.details = {field: [message]}


@dataclass(frozen=True)
class Operator:
    """Who manages the account: an admin (through the API or a page) or the command line."""

    username: str
    user_id: int | None = None
    device_id: str | None = None


COMMAND_LINE = Operator("cli", None, "cli")


def check_placement(role: str, unit: Unit | None, unit_code: str) -> None:
    """A role belongs to a unit of its level; raises AccountRefused."""
    if role not in ROLES:
        raise AccountRefused("role", f"role must be one of {', '.join(ROLES)}")
    if unit is None:
        raise AccountRefused("unit", f"unit {unit_code} does not exist (load-units first)")
    level = ROLE_LEVELS.get(role)
    if level == "province" and unit.level != "province":
        raise AccountRefused("unit", f"a {role} belongs to the province")
    if level is not None and unit.level != level:
        raise AccountRefused("unit", f"a {role} belongs to a {level}, and {unit_code} is a {unit.level}")


def check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountRefused(field, f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountRefused(field, f"the password may have at most {MAX_PASSWORD} characters")


def place_of(unit_code: str) -> tuple[str | None, str | None]:
    """(commune_code, district_code) of an account's unit, for scoping its audit entries."""
    unit = unit_store.get_unit(unit_code)
    if unit is None or unit.level == "province":
        return None, None
    if unit.level == "district":
        return None, unit.code
    return unit.code, unit.parent_code


def audit(by: Operator, user: User, action: str, before: dict, after: dict) -> None:
    audit_store.append_account_entry(
        at=utcnow(),
        actor=by.username,
        actor_id=by.user_id,
        device_id=by.device_id,
        action=action,
        username=user.username,
        before=before,
        after=after,
        place=place_of(user.unit_code),
    )


def end_credentials(user: User) -> tuple[dict, dict]:
    """Bump the generation; the before/after of it for the audit entry."""
    before = user.token_generation
    return {"token_generation": before}, {"token_generation": store.bump_token_generation(user)}


def create_account(
    by: Operator, username: str, role: str, unit_code: str, password: str, display_name: str | None = None
) -> User:
    if not username or len(username) > 80:
        raise AccountRefused("username", "a username has 1 to 80 characters")
    check_placement(role, unit_store.get_unit(unit_code), unit_code)
    if store.get_user_by_username(username) is not None:
        raise AccountRefused("username", f"user {username} already exists")
    check_password(password)
    user = store.create_user(username, role, unit_code, hash_password(password), utcnow(), display_name)
    after = {"role": role, "unit": unit_code, "display_name": display_name, "active": True}
    if by != COMMAND_LINE:  # setup commands (create-user, demo) are not trail, like load-units
        audit(by, user, "create", {}, {k: v for k, v in after.items() if v is not None})
    return user


def set_password(by: Operator, user: User, password: str, own: bool = False) -> None:
    """A new password (``own``: the user's change; else a reset): every older credential ends."""
    check_password(password, "new_password" if own else "password")
    store.update_user(user, password_hash=hash_password(password))
    before, after = end_credentials(user)
    audit(by, user, "change_password" if own else "reset_password", before, after)


def set_role(by: Operator, user: User, role: str | None = None, unit_code: str | None = None) -> bool:
    """Move a user to a role and/or unit; every older credential ends. False: nothing to change."""
    role, unit_code = role or user.role, unit_code or user.unit_code
    if (role, unit_code) == (user.role, user.unit_code):
        return False
    check_placement(role, unit_store.get_unit(unit_code), unit_code)
    before = {"role": user.role, "unit": user.unit_code}
    store.update_user(user, role=role, unit_code=unit_code)
    ended_before, ended_after = end_credentials(user)
    audit(by, user, "set_role", {**before, **ended_before}, {"role": role, "unit": unit_code, **ended_after})
    return True


def set_active(by: Operator, user: User, active: bool) -> bool:
    """Deactivate (every credential ends) or reactivate a user. False: nothing to change."""
    if user.active == active:
        return False
    store.update_user(user, active=active)
    before, after = end_credentials(user)
    audit(
        by,
        user,
        "reactivate" if active else "deactivate",
        {"active": not active, **before},
        {"active": active, **after},
    )
    return True


def set_display_name(by: Operator, user: User, display_name: str | None) -> bool:
    if user.display_name == display_name:
        return False
    before = {"display_name": user.display_name}
    store.update_user(user, display_name=display_name)
    audit(by, user, "update", before, {"display_name": display_name})
    return True
