"""The delay audit: what was late on a given day, by how many days, and where.

Stories on the 2020 calendar. Versions are stored directly with ``factories.put`` at chosen
server times; "today" is the real clock unless a test sets it, so a 2020 ``as_of`` is a past
day answered from the versions kept, and a test that sets today answers from the current state.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from server.extensions import db
from server.models import SyncBatch, User
from tests import factories as f

VN = "+07:00"


def at(text: str) -> datetime:
    """A server time; written with an explicit offset in each test."""
    return datetime.fromisoformat(text)


def set_today(monkeypatch, day: str) -> None:
    """Move the server's clock to 12:00 in Vietnam on ``day`` (tokens are already issued)."""
    moment = datetime.combine(date.fromisoformat(day), time(5, 0), tzinfo=UTC)
    monkeypatch.setattr("server.clock.utcnow", lambda: moment)


def history(app, entity: str, data: dict, steps: list[tuple[str, dict]], commune: str = "20920") -> str:
    """A record with one version per step: (server time, fields changed from the previous one)."""
    record_id = f.new_id()
    with app.app_context():
        for version, (when, changes) in enumerate(steps, start=1):
            data = {**data, **changes}
            f.put(entity, data, record_id=record_id, version=version, at=at(when), commune_code=commune)
    return record_id


def household(app, commune: str = "20920") -> str:
    return history(app, "households", f.household(commune), [("2020-05-01T09:00:00+07:00", {})], commune)


def delays(client, headers, query: str, status: int = 200):
    resp = client.get(f"/api/v1/delays?{query}", headers=headers)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def listed(body: dict) -> dict[str, int]:
    """id -> days_overdue of the listed items."""
    return {item["id"]: item["days_overdue"] for item in body["items"]}


@pytest.fixture
def supervisor(auth):
    return auth.headers("supervisor")


def test_a_payout_is_late_the_day_after_its_due_date_and_stays_late_in_history(app, client, supervisor):
    hh = household(app)
    payout = history(
        app,
        "payouts",
        f.payout(hh, due_date="2020-09-30"),
        [
            ("2020-06-01T09:00:00+07:00", {}),
            ("2020-09-01T09:00:00+07:00", {"status": "approved"}),
            # Recorded at 00:30 on 20 October in Vietnam, still the 19th in UTC.
            ("2020-10-19T17:30:00+00:00", {"status": "disbursed", "disbursed_on": "2020-10-20"}),
        ],
    )
    assert payout not in listed(delays(client, supervisor, "as_of=2020-09-30"))  # due today: not late
    body = delays(client, supervisor, "as_of=2020-10-01")
    assert listed(body) == {payout: 1}
    item = body["items"][0]
    assert item == {
        "kind": "payout_overdue",
        "entity": "payouts",
        "id": payout,
        "household_id": hh,
        "district_code": "515",
        "commune_code": "20920",
        "due_date": "2020-09-30",
        "days_overdue": 1,
        "status": "approved",
        "amount_vnd": 5_000_000,
    }
    # The earlier picture: on 19 October it was still waiting, whatever happened since.
    assert listed(delays(client, supervisor, "as_of=2020-10-19")) == {payout: 19}
    assert listed(delays(client, supervisor, "as_of=2020-10-20")) == {}
    assert listed(delays(client, supervisor, f"as_of={date.today().isoformat()}")) == {}


def test_today_is_answered_from_the_current_state(app, client, supervisor, monkeypatch):
    hh = household(app)
    payout = history(app, "payouts", f.payout(hh, due_date="2020-09-30"), [("2020-06-01T09:00:00+07:00", {})])
    paid = history(
        app,
        "payouts",
        f.payout(hh, due_date="2020-09-30"),
        [
            ("2020-06-01T09:00:00+07:00", {}),
            ("2020-10-20T09:00:00+07:00", {"status": "disbursed", "disbursed_on": "2020-10-20"}),
        ],
    )
    assert listed(delays(client, supervisor, "as_of=2020-10-05")) == {payout: 5, paid: 5}  # the versions
    set_today(monkeypatch, "2020-10-05")
    assert listed(delays(client, supervisor, "as_of=2020-10-05")) == {payout: 5}  # the current tables
    assert listed(delays(client, supervisor, "as_of=2020-11-05")) == {payout: 36}  # later: current state
    assert listed(delays(client, supervisor, "as_of=2020-09-30")) == {}  # past, from versions


def test_cancelled_confirmed_and_deleted_payouts_are_not_late(app, client, supervisor):
    hh, gone = household(app), household(app)
    day = [("2020-06-01T09:00:00+07:00", {})]
    late = history(app, "payouts", f.payout(hh, due_date="2020-09-01"), day)
    edited = history(
        app, "payouts", f.payout(hh, due_date="2020-09-01"), [*day, ("2020-07-01T09:00:00+07:00", {})]
    )
    history(app, "payouts", f.payout(hh, due_date="2020-09-01", status="cancelled"), day)
    confirmed = {"status": "confirmed", "disbursed_on": "2020-08-01", "confirmed_on": "2020-08-02"}
    history(app, "payouts", f.payout(hh, due_date="2020-09-01", **confirmed), day)
    deleted = f.new_id()
    with app.app_context():
        f.put(
            "payouts",
            f.payout(hh, due_date="2020-09-01"),
            record_id=deleted,
            at=at("2020-06-01T09:00:00+07:00"),
        )
        f.put(
            "payouts",
            f.payout(hh, due_date="2020-09-01"),
            record_id=deleted,
            version=2,
            deleted=True,
            at=at("2020-08-01T09:00:00+07:00"),
        )
    orphan = history(app, "payouts", f.payout(gone, due_date="2020-09-01"), day)
    with app.app_context():  # a deleted household takes its records out of every report
        f.put(
            "households",
            f.household(),
            record_id=gone,
            version=2,
            deleted=True,
            at=at("2020-09-10T09:00:00+07:00"),
        )
    assert listed(delays(client, supervisor, "as_of=2020-09-20")) == {late: 19, edited: 19}
    assert listed(delays(client, supervisor, "as_of=2020-09-05")) == {late: 4, edited: 4, orphan: 4}


def test_approval_is_overdue_after_the_threshold_counted_from_the_day_received(app, client, supervisor):
    hh = household(app)
    # Received at 01:00 on 1 June in Vietnam (31 May in UTC): received on 1 June, due 16 June.
    reg = history(
        app,
        "registrations",
        f.registration(hh, submitted_at="2020-05-31T18:00:00+00:00"),
        [("2020-05-31T18:00:00+00:00", {})],
    )
    assert reg not in listed(delays(client, supervisor, "as_of=2020-06-16"))
    body = delays(client, supervisor, "as_of=2020-06-17&kind=approval_overdue")
    assert body["items"][0]["due_date"] == "2020-06-16"
    assert body["items"][0]["status"] == "submitted" and body["items"][0]["household_id"] == hh
    assert listed(body) == {reg: 1}


def test_thresholds_are_settings(app, client, supervisor, monkeypatch):
    hh = household(app)
    reg = history(
        app,
        "registrations",
        f.registration(hh, submitted_at="2020-06-01T02:00:00+00:00"),
        [("2020-06-01T09:00:00+07:00", {})],
    )
    assert listed(delays(client, supervisor, "as_of=2020-06-17")) == {reg: 1}
    monkeypatch.setitem(app.config, "APPROVAL_OVERDUE_DAYS", 10)
    body = delays(client, supervisor, "as_of=2020-06-17")
    assert listed(body) == {reg: 6} and body["thresholds"]["approval_overdue_days"] == 10
    monkeypatch.setitem(app.config, "APPROVAL_OVERDUE_DAYS", 30)
    assert listed(delays(client, supervisor, "as_of=2020-06-17")) == {}


def test_a_returned_form_resubmitted_is_received_again(app, client, supervisor):
    hh = household(app)
    reg = history(
        app,
        "registrations",
        f.registration(hh, submitted_at="2020-06-01T02:00:00+00:00"),
        [
            ("2020-06-01T09:00:00+07:00", {}),
            ("2020-06-20T09:00:00+07:00", {"status": "returned", "decided_by": "cb-xa"}),
            (
                "2020-06-25T09:00:00+07:00",
                {"status": "submitted", "submitted_at": "2020-06-25T02:00:00+00:00"},
            ),
        ],
    )
    assert listed(delays(client, supervisor, "as_of=2020-06-19")) == {reg: 3}
    assert listed(delays(client, supervisor, "as_of=2020-06-22")) == {}  # returned: waiting on the household
    assert listed(delays(client, supervisor, "as_of=2020-07-10")) == {}  # due 10 July
    assert listed(delays(client, supervisor, "as_of=2020-07-11")) == {reg: 1}


def test_a_planned_support_item_past_its_due_date(app, client, supervisor):
    hh = household(app)
    reg = f.new_id()
    item = history(
        app,
        "support_items",
        f.support_item(hh, reg, due_date="2020-07-01"),
        [
            ("2020-06-10T09:00:00+07:00", {}),
            ("2020-07-05T09:00:00+07:00", {"status": "delivered", "delivered_on": "2020-07-05"}),
        ],
    )
    history(app, "support_items", f.support_item(hh, reg, due_date=None), [("2020-06-10T09:00:00+07:00", {})])
    assert listed(delays(client, supervisor, "as_of=2020-07-01")) == {}
    body = delays(client, supervisor, "as_of=2020-07-04&kind=support_overdue")
    assert listed(body) == {item: 3} and body["items"][0]["status"] == "planned"
    assert listed(delays(client, supervisor, "as_of=2020-07-05")) == {}


def make_collaborator(app, auth, created: str, last_sync: str | None = None, unit: str = "20920") -> str:
    name = auth.user("collaborator", unit)
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.username == name)
            .values(created_at=at(created), last_sync_at=at(last_sync) if last_sync else None)
        )
        db.session.commit()
    return name


def add_batch(app, username: str, received: str) -> None:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        db.session.add(
            SyncBatch(
                batch_id=f.new_id(),
                user_id=user.id,
                device_id="phone-1",
                received_at=at(received),
                response={},
            )
        )
        db.session.commit()


def test_a_collaborator_who_never_synced_is_silent_from_the_account_creation(app, client, auth, supervisor):
    name = make_collaborator(app, auth, created="2020-01-01T08:00:00+07:00")
    assert listed(delays(client, supervisor, "as_of=2020-01-31")) == {}
    body = delays(client, supervisor, "as_of=2020-02-01&kind=collaborator_silent")
    assert body["items"] == [
        {
            "kind": "collaborator_silent",
            "entity": "users",
            "id": name,
            "household_id": None,
            "district_code": "515",
            "commune_code": "20920",
            "due_date": "2020-01-31",
            "days_overdue": 1,
            "status": "never_synced",
            "amount_vnd": None,
        }
    ]
    assert listed(delays(client, supervisor, "as_of=2019-12-31")) == {}  # no account yet


def test_a_past_day_counts_the_batches_received_by_then(app, client, auth, supervisor, monkeypatch):
    name = make_collaborator(
        app, auth, created="2020-01-01T08:00:00+07:00", last_sync="2020-05-01T09:00:00+07:00"
    )
    add_batch(app, name, "2020-03-01T09:00:00+07:00")
    add_batch(app, name, "2020-05-01T09:00:00+07:00")
    assert listed(delays(client, supervisor, "as_of=2020-02-15")) == {name: 15}
    assert listed(delays(client, supervisor, "as_of=2020-03-31")) == {}
    assert listed(delays(client, supervisor, "as_of=2020-04-01")) == {name: 1}
    assert listed(delays(client, supervisor, "as_of=2020-05-31")) == {}
    set_today(monkeypatch, "2020-06-05")  # today: users.last_sync_at
    body = delays(client, supervisor, "as_of=2020-06-05")
    assert listed(body) == {name: 5} and body["items"][0]["status"] == "silent"
    monkeypatch.setitem(app.config, "COLLABORATOR_SILENT_DAYS", 7)
    assert listed(delays(client, supervisor, "as_of=2020-06-05")) == {name: 28}


def seed_province(app, auth) -> dict[str, str]:
    """Late items in Bắc Trà My (515: Trà Đốc 20920, Trà Sơn 20900) and Nam Trà My (516)."""
    day = [("2020-06-01T09:00:00+07:00", {})]
    ids = {}
    hh = household(app, "20920")
    ids["p515"] = history(app, "payouts", f.payout(hh, due_date="2020-09-01", amount_vnd=5_000_000), day)
    ids["p515b"] = history(app, "payouts", f.payout(hh, due_date="2020-09-20", amount_vnd=2_500_000), day)
    ids["r515"] = history(
        app, "registrations", f.registration(hh, submitted_at="2020-06-01T02:00:00+00:00"), day
    )
    hh2 = household(app, "20900")
    ids["s515"] = history(
        app, "support_items", f.support_item(hh2, f.new_id(), due_date="2020-09-25"), day, "20900"
    )
    hh3 = household(app, "20935")
    ids["p516"] = history(
        app, "payouts", f.payout(hh3, due_date="2020-08-01", amount_vnd=1_000_000), day, "20935"
    )
    ids["u516"] = make_collaborator(app, auth, created="2020-07-01T08:00:00+07:00", unit="20935")
    return ids


def test_most_overdue_first_and_a_summary_per_district(app, client, auth, supervisor):
    ids = seed_province(app, auth)
    body = delays(client, supervisor, "as_of=2020-10-01")
    order = ["r515", "u516", "p516", "p515", "p515b", "s515"]
    assert [i["id"] for i in body["items"]] == [ids[k] for k in order]
    assert listed(body) == {
        ids["r515"]: 107,
        ids["u516"]: 62,
        ids["p516"]: 61,
        ids["p515"]: 30,
        ids["p515b"]: 11,
        ids["s515"]: 6,
    }
    summary = body["summary"]
    assert summary["total"] == 6
    assert summary["counts"] == {
        "payout_overdue": 3,
        "approval_overdue": 1,
        "support_overdue": 1,
        "collaborator_silent": 1,
        "duplicate_unsettled": 0,
    }
    assert summary["overdue_payout_vnd"] == 8_500_000
    assert summary["worst"]["id"] == ids["r515"] and summary["worst"]["days_overdue"] == 107
    districts = {d["code"]: d for d in summary["districts"]}
    assert len(districts) == 18 and districts["502"]["total"] == 0 and districts["502"]["worst"] is None
    assert districts["515"] == {
        "code": "515",
        "name": "Huyện Bắc Trà My",
        "total": 4,
        "counts": {
            "payout_overdue": 2,
            "approval_overdue": 1,
            "support_overdue": 1,
            "collaborator_silent": 0,
            "duplicate_unsettled": 0,
        },
        "overdue_payout_vnd": 7_500_000,
        "worst": {
            "kind": "approval_overdue",
            "entity": "registrations",
            "id": ids["r515"],
            "due_date": "2020-06-16",
            "days_overdue": 107,
        },
    }
    assert districts["516"]["total"] == 2 and districts["516"]["overdue_payout_vnd"] == 1_000_000
    assert districts["516"]["worst"]["id"] == ids["u516"]


def test_items_come_a_page_at_a_time_and_the_summary_counts_them_all(app, client, auth, supervisor):
    ids = seed_province(app, auth)
    order = [ids[k] for k in ["r515", "u516", "p516", "p515", "p515b", "s515"]]
    whole = delays(client, supervisor, "as_of=2020-10-01")
    assert whole["cursor"] is None  # six items fit the default page
    seen, cursor, pages = [], None, 0
    while True:
        body = delays(
            client, supervisor, "as_of=2020-10-01&limit=4" + (f"&cursor={cursor}" if cursor else "")
        )
        pages += 1
        seen += [item["id"] for item in body["items"]]
        assert body["summary"] == whole["summary"]  # every page: the totals of all items
        cursor = body["cursor"]
        if cursor is None:
            break
    assert pages == 2 and seen == order
    # A cursor belongs to its question: another day, kind or unit refuses it.
    first = delays(client, supervisor, "as_of=2020-10-01&limit=2")
    for other in ("as_of=2020-10-02", "as_of=2020-10-01&kind=payout_overdue", "as_of=2020-10-01&unit=515"):
        refused = delays(client, supervisor, f"{other}&limit=2&cursor={first['cursor']}", 422)
        assert refused["error"]["code"] == "validation_error"
    delays(client, supervisor, "as_of=2020-10-01&limit=0", 422)
    delays(client, supervisor, "as_of=2020-10-01&limit=10001", 422)


def test_kind_and_unit_filters(app, client, auth, supervisor):
    ids = seed_province(app, auth)
    body = delays(client, supervisor, "as_of=2020-10-01&kind=payout_overdue&kind=support_overdue")
    assert set(listed(body)) == {ids["p515"], ids["p515b"], ids["p516"], ids["s515"]}
    assert set(body["summary"]["counts"]) == {"payout_overdue", "support_overdue"}
    body = delays(client, supervisor, "as_of=2020-10-01&unit=516")
    assert set(listed(body)) == {ids["p516"], ids["u516"]}
    assert [d["code"] for d in body["summary"]["districts"]] == ["516"]
    body = delays(client, supervisor, "as_of=2020-10-01&unit=20900")
    assert set(listed(body)) == {ids["s515"]}
    assert [d["code"] for d in body["summary"]["districts"]] == ["515"]
    assert body["summary"]["districts"][0]["total"] == 1


def test_each_role_sees_its_own_units(app, client, auth):
    ids = seed_province(app, auth)
    officer = auth.headers("district_officer", "515")
    body = delays(client, officer, "as_of=2020-10-01")
    assert set(listed(body)) == {ids["p515"], ids["p515b"], ids["r515"], ids["s515"]}
    assert [d["code"] for d in body["summary"]["districts"]] == ["515"]
    assert delays(client, officer, "as_of=2020-10-01&unit=516", 404)["error"]["code"] == "not_found"
    assert delays(client, officer, "as_of=2020-10-01&unit=99999", 404)["error"]["code"] == "not_found"
    official = auth.headers("commune_official", "20920")
    assert set(listed(delays(client, official, "as_of=2020-10-01"))) == {
        ids["p515"],
        ids["p515b"],
        ids["r515"],
    }
    assert delays(client, official, "as_of=2020-10-01&unit=20900", 404)["error"]["code"] == "not_found"
    collaborator = auth.headers("collaborator")
    assert delays(client, collaborator, "as_of=2020-10-01", 403)["error"]["code"] == "forbidden"
    assert client.get("/api/v1/delays?as_of=2020-10-01").status_code == 401


@pytest.mark.parametrize(
    "query, field",
    [
        ("as_of=2020-02-30", "as_of"),
        ("as_of=20200301", "as_of"),
        ("", "as_of"),
        ("as_of=2020-10-01&kind=late_lunch", "kind"),
        ("as_of=2020-10-01&format=pdf", "format"),
        ("as_of=2020-10-01&colour=red", "colour"),
    ],
)
def test_bad_queries_are_refused(client, supervisor, query, field):
    body = delays(client, supervisor, query, 422)
    assert body["error"]["code"] == "validation_error" and field in body["error"]["details"]


def test_csv_and_xlsx_carry_the_same_items(app, client, auth, supervisor):
    ids = seed_province(app, auth)
    resp = client.get("/api/v1/delays?as_of=2020-10-01&format=csv", headers=supervisor)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="delays-2020-10-01.csv"'
    assert resp.data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows][:1] == [ids["r515"]]
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 6
    assert by_id[ids["p515"]]["days_overdue"] == "30" and by_id[ids["p515"]]["amount_vnd"] == "5000000"
    assert by_id[ids["u516"]]["entity"] == "users" and by_id[ids["u516"]]["household_id"] == ""

    resp = client.get("/api/v1/delays?as_of=2020-10-01&format=xlsx&kind=payout_overdue", headers=supervisor)
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert [r["id"] for r in rows] == [ids["p516"], ids["p515"], ids["p515b"]]
    assert rows[0]["days_overdue"] == 61 and rows[0]["amount_vnd"] == 1_000_000
    assert rows[0]["due_date"].date() == date(2020, 8, 1)


def test_the_current_state_and_the_versions_agree(app, client, auth, supervisor, monkeypatch):
    """The same question answered both ways: from the typed tables and from record_versions."""
    seed_province(app, auth)
    for day in ("2020-06-20", "2020-09-02", "2020-10-01"):
        from_versions = delays(client, supervisor, f"as_of={day}")
        set_today(monkeypatch, day)
        current = delays(client, supervisor, f"as_of={day}")
        monkeypatch.undo()
        assert current == from_versions
        assert current["items"]
