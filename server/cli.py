"""Setup commands: ``flask --app wsgi init-db | load-units | load-quotas | create-user | demo``,
and the accounts' ``set-password | deactivate-user | set-role``.

``backup`` and ``restore`` live in ``server/backup.py``.
"""

from __future__ import annotations

import getpass
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from server.auth import accounts
from server.extensions import db
from server.loaders import LoadError, parse_quotas, parse_units
from server.models import ROLES, User
from server.store import accounts as account_store
from server.store import units as unit_store

DATA = Path(__file__).resolve().parent.parent / "data"


def register_commands(app: Flask) -> None:
    for command in (init_db, load_units, load_quotas, create_user, set_password, deactivate_user, set_role):
        app.cli.add_command(command)
    from server.backup import backup, restore
    from server.demo import demo
    from server.verification import verify_audit, verify_receipt

    app.cli.add_command(demo)
    app.cli.add_command(backup)
    app.cli.add_command(restore)
    app.cli.add_command(verify_audit)
    app.cli.add_command(verify_receipt)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the schema, or migrate it to the latest version (idempotent)."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


def read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read ({exc})") from exc


def unit_levels() -> dict[str, str]:
    return {u.code: u.level for u in unit_store.list_units()}


def load_units_file(path: str) -> int:
    """Load units from a CSV (all or nothing); returns the number of rows."""
    try:
        rows = parse_units(read_file(path), unit_levels())
    except LoadError as exc:
        raise click.ClickException(f"{path}: {exc}; nothing was loaded") from exc
    count = unit_store.upsert_units(rows)
    db.session.commit()
    return count


def load_quotas_file(path: str) -> int:
    try:
        rows = parse_quotas(read_file(path), unit_levels())
    except LoadError as exc:
        raise click.ClickException(f"{path}: {exc}; nothing was loaded") from exc
    count = unit_store.upsert_quotas(rows)
    db.session.commit()
    return count


@click.command("load-units")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False))
def load_units(file: str) -> None:
    """Load administrative units from CSV: code,name,level,parent_code[,kind,mountain]."""
    click.echo(f"loaded {load_units_file(file)} units")


@click.command("load-quotas")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False))
def load_quotas(file: str) -> None:
    """Load quotas from CSV: year,unit_code,category,households (province row = the target)."""
    click.echo(f"loaded {load_quotas_file(file)} quotas")


def add_user(username: str, role: str, unit_code: str, password: str, display_name: str | None = None):
    """Create a user after checking role, unit and password; raises ClickException."""
    with refusals_as_click_errors():
        return accounts.create_account(
            accounts.COMMAND_LINE, username, role, unit_code, password, display_name
        )


@contextmanager
def refusals_as_click_errors():
    try:
        yield
    except accounts.AccountRefused as exc:
        raise click.ClickException(str(exc)) from exc


def read_password() -> str:
    """A password from standard input: asked twice on a terminal, else one line."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise click.ClickException("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def existing_user(username: str) -> User:
    user = account_store.get_user_by_username(username)
    if user is None:
        raise click.ClickException(f"user {username} does not exist")
    return user


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--unit", "unit_code", required=True, help="code of the user's commune, district or province")
@click.option("--name", "display_name", default=None, help="full name shown in pages and reports")
def create_user(username: str, role: str, unit_code: str, display_name: str | None) -> None:
    """Create a user; the password is read from standard input (never an argument)."""
    add_user(username, role, unit_code, read_password(), display_name)
    db.session.commit()
    click.echo(f"created {role} {username} in unit {unit_code}")


@click.command("set-password")
@with_appcontext
@click.argument("username")
def set_password(username: str) -> None:
    """Reset a user's password, read from standard input; every token and session ends."""
    user = existing_user(username)
    with refusals_as_click_errors():
        accounts.set_password(accounts.COMMAND_LINE, user, read_password())
    db.session.commit()
    click.echo(f"password of {username} set; every token and page session issued before is ended")


@click.command("deactivate-user")
@with_appcontext
@click.argument("username")
@click.option("--reactivate", is_flag=True, help="let the user log in again instead")
def deactivate_user(username: str, reactivate: bool) -> None:
    """Stop a user logging in; every token and session ends (device keys: revoke them too)."""
    user = existing_user(username)
    changed = accounts.set_active(accounts.COMMAND_LINE, user, reactivate)
    db.session.commit()
    state = "active" if reactivate else "deactivated"
    click.echo(f"{username} {state}" if changed else f"{username} was already {state}")


@click.command("set-role")
@with_appcontext
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--unit", "unit_code", default=None, help="the new unit's code (default: the current one)")
def set_role(username: str, role: str, unit_code: str | None) -> None:
    """Give a user another role (and unit); every token and session issued before ends."""
    user = existing_user(username)
    with refusals_as_click_errors():
        changed = accounts.set_role(accounts.COMMAND_LINE, user, role, unit_code)
    db.session.commit()
    where = unit_code or user.unit_code
    click.echo(f"{username} is {role} in unit {where}" if changed else f"{username} already was")
