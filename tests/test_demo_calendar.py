"""The demo as a live programme: its year ends today, unless a past year is asked for.

A demo made today must read like today - forms waiting days, not years; payouts a few weeks
late; collaborators silent since spring - while ``demo --year 2020`` replays the report's year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from server.clock import today
from server.extensions import db
from server.models import Payout, Registration, User


def test_the_demos_year_ends_today(app, client, runner):
    result = runner.invoke(args=["demo", "--districts", "2"])
    assert result.exit_code == 0, result.output
    now = datetime.now(UTC)
    with app.app_context():
        day = today()
        newest, oldest = db.session.execute(
            select(func.max(Registration.submitted_at), func.min(Registration.submitted_at))
        ).one()
        years = set(db.session.execute(select(Registration.year)).scalars())
        due = db.session.execute(select(func.max(Payout.due_date))).scalar_one()
        statuses = set(db.session.execute(select(Registration.status)).scalars())
    assert now - timedelta(days=10) < newest <= now  # the collaborators were at work this week
    assert now - timedelta(days=366) <= oldest
    assert years == {day.year}
    assert due > day - timedelta(days=120)
    assert {"submitted", "approved"} <= statuses
    assert f"as_of={day.isoformat()}" in result.output and "/app/" in result.output

    token = client.post("/api/v1/auth/token", json={"username": "giamsat", "password": "demo-pass-2020"})
    headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    delays = client.get(f"/api/v1/delays?as_of={day.isoformat()}", headers=headers).get_json()
    late = {kind: [i["days_overdue"] for i in delays["items"] if i["kind"] == kind] for kind in
            ("payout_overdue", "approval_overdue", "collaborator_silent")}  # fmt: skip
    assert late["approval_overdue"] and max(late["approval_overdue"]) < 366  # days, not years
    assert all(days < 366 for days in late["payout_overdue"])
    assert all(days < 366 for days in late["collaborator_silent"])


def test_demo_year_2020_replays_the_reports_year(app, client, runner):
    result = runner.invoke(args=["demo", "--districts", "2", "--year", "2020"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        years = set(db.session.execute(select(Registration.year)).scalars())
        first, last = db.session.execute(
            select(func.min(Registration.submitted_at), func.max(Registration.submitted_at))
        ).one()
        created = db.session.execute(select(func.min(User.created_at))).scalar_one()
    assert years == {2020}
    assert first.year == last.year == 2020
    assert created is not None
    assert "year=2020" in result.output and "as_of=2020-10-08" in result.output
    token = client.post("/api/v1/auth/token", json={"username": "giamsat", "password": "demo-pass-2020"})
    headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    report = client.get("/api/v1/reports/exit-registrations?year=2020", headers=headers).get_json()
    assert report["totals"]["poor"]["households"] > 0
