"""Collaborators' activity: who syncs, what they wrote, what went wrong - on any day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import Conflict, RejectedChange, SyncBatch, User
from tests import factories as f
from tests.phones import Phone

REG_FIELDS = ("household_id", "year", "kind", "members", "needs", "commitment", "signed_on", "notes")


def activity(client, headers, query: str = "", status: int = 200):
    resp = client.get(f"/api/v1/activity?{query}", headers=headers)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def rows(body: dict) -> dict[str, dict]:
    return {row["username"]: row for row in body["items"]}


COUNTS = ("households", "registrations", "follow_ups", "rejected_changes", "open_conflicts")


def counts(row: dict) -> tuple:
    return tuple(row[k] for k in COUNTS)


def test_work_pushed_today_is_counted(client, auth):
    """Hồng captures two households and a form, records a delivery and confirms a payout;
    Lan's edit of the same field conflicts; one of Hồng's changes is refused."""
    hong, lan = auth.user("collaborator", "20920"), auth.user("collaborator", "20920")
    phone = Phone(client, auth.headers(username=hong))
    hh1, hh2 = phone.create("households", f.household()), phone.create("households", f.household())
    reg = phone.create("registrations", {k: f.registration(hh1)[k] for k in REG_FIELDS})
    phone.sync()
    decided = client.post(
        f"/api/v1/registrations/{reg}/decision",
        json={"decision": "approve", "note": "Đủ điều kiện", "version": 1},
        headers=auth.headers("commune_official", "20920"),
    )
    assert decided.status_code == 200, decided.get_json()
    officer = Phone(client, auth.headers("district_officer", "515"))
    item = officer.create("support_items", f.support_item(hh1, reg))
    payout = officer.create("payouts", f.payout(hh1, reg, status="disbursed", disbursed_on="2020-10-01"))
    pushed = officer.push()["results"]
    assert [r["status"] for r in pushed] == ["applied", "applied"]
    phone.pull()
    phone.edit("support_items", item, status="delivered", delivered_on="2020-07-02")
    phone.edit("payouts", payout, status="confirmed", confirmed_on="2020-10-02")
    phone.edit("households", hh2, members=6)
    phone.create("registrations", {**{k: f.registration(hh2)[k] for k in REG_FIELDS}, "members": 0})
    results = [r["status"] for r in phone.push()["results"]]
    assert results == ["applied", "applied", "applied", "rejected"]
    other = Phone(client, auth.headers(username=lan))
    other.records = {k: v for k, v in phone.records.items()}  # pulled before Hồng's edit
    other.edit("households", hh2, members=7)
    assert other.push()["results"][0]["status"] == "conflict"

    body = activity(client, auth.headers("supervisor"))
    assert body["as_of"] == datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    seen = rows(body)
    assert counts(seen[hong]) == (2, 1, 2, 1, 0)
    assert counts(seen[lan]) == (0, 0, 0, 0, 1)
    assert seen[hong]["unit"] == "20920" and seen[hong]["district_code"] == "515"
    assert seen[hong]["last_sync_at"] is not None and seen[hong]["silent"] is False
    assert seen[hong]["days_since_sync"] == 0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def past(app, auth):
    """A year of Thảo's work in Trà Đốc, stored at known times."""
    thao = auth.user("collaborator", "20920")
    idle = auth.user("collaborator", "20920")
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.username.in_([thao, idle]))
            .values(created_at=at("2020-01-01T08:00:00+07:00"))
        )
        user_id = db.session.query(User.id).filter_by(username=thao).scalar()
        db.session.execute(
            update(User).where(User.username == thao).values(last_sync_at=at("2020-06-10T09:00:00+07:00"))
        )
        for when in ("2020-03-01T09:00:00+07:00", "2020-06-10T09:00:00+07:00"):
            db.session.add(
                SyncBatch(
                    batch_id=f.new_id(), user_id=user_id, device_id="p", received_at=at(when), response={}
                )
            )
        hh = f.put("households", f.household(), at=at("2020-03-01T09:00:00+07:00"), actor=thao)
        f.put(
            "households",
            f.household(members=5),
            record_id=hh,
            version=2,
            at=at("2020-05-01T09:00:00+07:00"),
            actor=thao,
        )
        reg = f.put("registrations", f.registration(hh), at=at("2020-05-01T09:00:00+07:00"), actor=thao)
        item = f.put(
            "support_items", f.support_item(hh, reg), at=at("2020-05-02T09:00:00+07:00"), actor="officer"
        )
        delivered = f.support_item(hh, reg, status="delivered", delivered_on="2020-06-10")
        f.put(
            "support_items",
            delivered,
            record_id=item,
            version=2,
            at=at("2020-06-10T09:00:00+07:00"),
            actor=thao,
        )
        db.session.add(
            RejectedChange(
                change_id=f.new_id(), errors={}, user_id=user_id, received_at=at("2020-04-15T09:00:00+07:00")
            )
        )
        db.session.add(
            Conflict(
                id=f.new_id(),
                entity="households",
                record_id=hh,
                commune_code="20920",
                district_code="515",
                base_version=1,
                server_version=2,
                fields={},
                user_id=user_id,
                created_at=at("2020-05-01T10:00:00+07:00"),
                status="resolved",
                resolved_at=at("2020-05-10T10:00:00+07:00"),
            )
        )
        db.session.commit()
    return {"thao": thao, "idle": idle}


def test_a_past_day_reads_as_it_was(client, auth, past):
    headers = auth.headers("supervisor")
    on = lambda day: rows(activity(client, headers, f"as_of={day}"))  # noqa: E731
    april = on("2020-04-01")
    assert counts(april[past["thao"]]) == (1, 0, 0, 0, 0)
    assert april[past["thao"]]["last_sync_at"] == "2020-03-01T02:00:00+00:00"
    assert april[past["thao"]]["days_since_sync"] == 31 and april[past["thao"]]["silent"] is True
    assert counts(on("2020-04-20")[past["thao"]]) == (1, 0, 0, 1, 0)
    assert counts(on("2020-05-05")[past["thao"]]) == (1, 1, 0, 1, 1)  # the conflict still open
    assert counts(on("2020-05-20")[past["thao"]]) == (1, 1, 0, 1, 0)  # resolved on the 10th
    june = on("2020-06-30")
    assert counts(june[past["thao"]]) == (1, 1, 1, 1, 0)
    assert june[past["thao"]]["days_since_sync"] == 20 and june[past["thao"]]["silent"] is False
    assert june[past["idle"]]["last_sync_at"] is None and june[past["idle"]]["days_since_sync"] == 181
    assert on("2019-12-31") == {}  # the accounts did not exist yet
    # The longest silent first.
    assert [r["username"] for r in activity(client, headers, "as_of=2020-06-30")["items"]] == [
        past["idle"],
        past["thao"],
    ]


def test_today_uses_the_users_last_sync(client, auth, past, monkeypatch):
    moment = datetime.combine(date(2020, 7, 20), time(5), tzinfo=UTC)
    monkeypatch.setattr("server.clock.utcnow", lambda: moment)
    headers = auth.headers("supervisor")
    seen = rows(activity(client, headers))
    assert activity(client, headers)["as_of"] == "2020-07-20"
    assert seen[past["thao"]]["last_sync_at"] == "2020-06-10T02:00:00+00:00"
    assert seen[past["thao"]]["days_since_sync"] == 40 and seen[past["thao"]]["silent"] is True
    monkeypatch.setitem(auth.app.config, "COLLABORATOR_SILENT_DAYS", 45)
    assert rows(activity(client, headers))[past["thao"]]["silent"] is False


def test_scope_roles_and_filters(client, auth, past):
    far = auth.user("collaborator", "20935")
    assert set(rows(activity(client, auth.headers("supervisor")))) == {past["thao"], past["idle"], far}
    assert set(rows(activity(client, auth.headers("district_officer", "515")))) == {
        past["thao"],
        past["idle"],
    }
    assert set(rows(activity(client, auth.headers("district_officer", "516")))) == {far}
    assert set(rows(activity(client, auth.headers("commune_official", "20935")))) == {far}
    assert set(rows(activity(client, auth.headers("supervisor"), "unit=516"))) == {far}
    officer = auth.headers("district_officer", "515")
    assert activity(client, officer, "unit=516", 404)["error"]["code"] == "not_found"
    assert activity(client, auth.headers("collaborator"), "", 403)["error"]["code"] == "forbidden"
    assert activity(client, officer, "as_of=2020-13-01", 422)["error"]["details"]["as_of"]
    assert activity(client, officer, "since=2020-01-01", 422)["error"]["details"]["since"]
