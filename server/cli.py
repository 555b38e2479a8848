"""Setup commands: ``flask --app wsgi init-db | load-units | load-quotas | create-user | demo``.

``backup`` and ``restore`` live in ``server/backup.py``.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from server.auth.passwords import hash_password
from server.clock import utcnow
from server.extensions import db
from server.loaders import LoadError, parse_quotas, parse_units
from server.models import ROLES, Unit
from server.store import accounts as account_store
from server.store import units as unit_store

DATA = Path(__file__).resolve().parent.parent / "data"


def register_commands(app: Flask) -> None:
    for command in (init_db, load_units, load_quotas, create_user):
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
    if role not in ROLES:
        raise click.ClickException(f"role must be one of {', '.join(ROLES)}")
    unit = db.session.get(Unit, unit_code)
    if unit is None:
        raise click.ClickException(f"unit {unit_code} does not exist (load-units first)")
    if role == "collaborator" or role == "commune_official":
        if unit.level != "commune":
            raise click.ClickException(f"a {role} belongs to a commune, and {unit_code} is a {unit.level}")
    elif role == "district_officer" and unit.level != "district":
        raise click.ClickException(
            f"a district_officer belongs to a district, and {unit_code} is a {unit.level}"
        )
    elif role == "supervisor" and unit.level != "province":
        raise click.ClickException("a supervisor belongs to the province")
    if account_store.get_user_by_username(username) is not None:
        raise click.ClickException(f"user {username} already exists")
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    return account_store.create_user(
        username, role, unit_code, hash_password(password), utcnow(), display_name
    )


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--unit", "unit_code", required=True, help="code of the user's commune, district or province")
@click.option("--name", "display_name", default=None, help="full name shown in pages and reports")
def create_user(username: str, role: str, unit_code: str, display_name: str | None) -> None:
    """Create a user; the password is read from standard input (never an argument)."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise click.ClickException("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    add_user(username, role, unit_code, password, display_name)
    db.session.commit()
    click.echo(f"created {role} {username} in unit {unit_code}")
