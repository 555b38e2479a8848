"""``flask --app wsgi demo``: Quang Nam's units, quotas, a user of every role, a year of activity."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from server.extensions import db
from server.store import accounts as account_store

# (username, role, unit code, display name). Communes are mountain communes of Bac Tra My
# and Nam Tra My, where the report says collaborators fall silent.
DEMO_USERS = [
    ("admin", "admin", "49", "Quản trị hệ thống"),
    ("giamsat", "supervisor", "49", "Sở LĐTBXH - Giám sát"),
    ("huyen_btm", "district_officer", "515", "Phòng LĐTBXH Bắc Trà My"),
    ("xa_trado", "commune_official", "20920", "UBND xã Trà Đốc"),
    ("ctv_trado", "collaborator", "20920", "Cộng tác viên xã Trà Đốc"),
]
DEMO_PASSWORD = "demo-pass-2020"  # noqa: S105 - printed on purpose: demo data only


def ensure_users() -> list[tuple[str, str, str]]:
    from server.cli import add_user

    made = []
    for username, role, unit, name in DEMO_USERS:
        if account_store.get_user_by_username(username) is None:
            add_user(username, role, unit, DEMO_PASSWORD, name)
        made.append((username, role, unit))
    return made


@click.command("demo")
@with_appcontext
@click.option("--serve", is_flag=True, help="then serve the app on 127.0.0.1")
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--districts",
    type=click.IntRange(1, 18),
    default=None,
    help="simulate fewer districts (a quicker, smaller demo)",
)
@click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    default=None,
    help="replay that calendar year (2020: the report's figures); default: the year ending today",
)
def demo(serve: bool, port: int, districts: int | None, year: int | None) -> None:
    """Fill the database with Quang Nam's units, quotas, users of every role and a year of activity."""
    from server.cli import DATA, load_quotas_file, load_units_file

    upgrade(directory=current_app.extensions["migrate"].directory)
    load_units_file(str(DATA / "quang_nam_units_2020.csv"))
    load_quotas_file(str(DATA / "quotas_2020.csv"))
    users = ensure_users()
    db.session.commit()
    activity, as_of, report_year = populate_activity(districts, year)
    click.echo(activity)
    url = f"http://127.0.0.1:{port}"
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for username, role, unit in users:
        click.echo(f"  {username:<12} {role:<17} unit {unit}")
    click.echo(f"\nAPI: {url}/api/v1  (OpenAPI: {url}/api/v1/openapi.json)")
    click.echo(
        f"Try: {url}/api/v1/reports/exit-registrations?year={report_year}"
        f" and {url}/api/v1/delays?as_of={as_of}"
    )
    click.echo(describe_demo_phone(url))
    click.echo(f"The collaborator's offline app: {url}/app/ (log in as ctv_trado)")
    if serve:
        click.echo(f"Serving FieldSync at {url} - Ctrl-C to stop")
        # Werkzeug's server itself: Flask's app.run() refuses to run inside a ``flask``
        # command (it prints "Ignoring a call to 'app.run()'" and returns).
        run_simple("127.0.0.1", port, current_app._get_current_object(), threaded=True)


DEMO_PHONE_USER = "ctv_trado"


def describe_demo_phone(url: str) -> str:
    """A device key for the demo collaborator, and what their phone's entity lists hold.

    Scanning the QR payload in ODK Collect (Add project → Configure with QR code) sets the
    phone up as ``ctv_trado``: the forms come with Trà Đốc's households, open registrations,
    planned support items and payouts waiting for confirmation.
    """
    from server.auth.odk import hash_device_key, issue_device_key
    from server.central.lists import build_user_list
    from server.clock import utcnow
    from server.device_tokens.views import collect_settings, encode_qr_payload
    from server.odk.entity_lists import ENTITY_LISTS

    user = account_store.get_user_by_username(DEMO_PHONE_USER)
    token = issue_device_key()
    account_store.create_device_token(hash_device_key(token), user.id, "demo QR", utcnow())
    db.session.commit()
    server_url = f"{url}/v1/key/{token}/projects/1"
    counts = ", ".join(f"{build_user_list(user, name).rows} {name}" for name in ENTITY_LISTS)
    return (
        f"\nODK Collect as {DEMO_PHONE_USER} (Trà Đốc): server URL {server_url}\n"
        f"  its entity lists: {counts}\n"
        f"  QR payload (render it, e.g. qrencode -o demo-qr.png '<payload>', and scan it in Collect):\n"
        f"  {encode_qr_payload(collect_settings(server_url))}"
    )


def populate_activity(districts: int | None = None, year: int | None = None) -> tuple[str, str, int]:
    """A realistic year of registrations, plans and payouts, once per database: the year
    ending today, or the calendar ``year`` (2020 keeps the report's figures). Returns what
    was made, a day to ask the delay audit about, and the programme year."""
    from sqlalchemy import func, select

    from server.clock import today
    from server.demo_activity import Calendar, populate
    from server.models import Household

    calendar = Calendar.of_year(year) if year else Calendar.ending_today(today())
    as_of = "2020-10-08" if year == 2020 else (calendar.today or calendar.day(10, 8)).isoformat()
    if db.session.execute(select(func.count()).select_from(Household)).scalar_one():
        return "demo activity: already present, left as it is", as_of, calendar.year
    counts = populate(DEMO_PASSWORD, districts, calendar=calendar)
    span = f"{year}" if year else f"the year ending today ({calendar.origin} to {calendar.today})"
    return (
        (
            f"demo activity for {span}: "
            + ", ".join(f"{v} {k}" for k, v in counts.items())
            + "\n  (every demo commune also has ctv_<code> and xa_<code>, every district huyen_<code>)"
        ),
        as_of,
        calendar.year,
    )
