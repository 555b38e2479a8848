"""The delay rules in plain Python, and the SQL audit checked against them on random histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.extensions import db
from server.store import delays as store
from server.store import records
from server.store.calendar import end_of_day
from sync import delays as rules
from sync.actors import Scope
from tests import factories as f

ZONE = "Asia/Ho_Chi_Minh"
UNITS = [("20920", "515"), ("20335", "502")]  # (commune, district)
START = datetime(2020, 6, 1, tzinfo=UTC)


def test_days_overdue_is_zero_on_the_due_date_and_listed_from_one():
    due = date(2020, 9, 30)
    assert rules.days_overdue(due, date(2020, 9, 30)) == 0 and not rules.is_listed(due, date(2020, 9, 30))
    assert rules.days_overdue(due, date(2020, 10, 1)) == 1 and rules.is_listed(due, date(2020, 10, 1))
    assert rules.days_overdue(due, date(2020, 9, 1)) == -29


def test_a_wait_is_due_the_threshold_after_it_starts():
    assert rules.after_threshold(date(2020, 6, 1), 15) == date(2020, 6, 16)


def test_only_unsettled_payouts_wait():
    assert [
        s
        for s in ("pending", "approved", "disbursed", "confirmed", "cancelled")
        if rules.payout_is_waiting(s)
    ] == [
        "pending",
        "approved",
    ]


# -- the SQL against the rules --------------------------------------------------------------

version_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24 * 40).map(
            lambda m: timedelta(minutes=m)
        ),  # gap to the next
        st.sampled_from(["pending", "approved", "disbursed", "confirmed", "cancelled"]),
        st.integers(min_value=0, max_value=40),  # due date: days after START
    ),
    min_size=1,
    max_size=4,
)
registration_steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24 * 20).map(lambda m: timedelta(minutes=m)),
        st.sampled_from(["submitted", "returned", "submitted", "approved"]),
    ),
    min_size=1,
    max_size=3,
)


def state_at(history: list[tuple[datetime, dict]], cutoff: datetime | None) -> dict | None:
    """The version in force at ``cutoff`` (None: the latest), as the rules see records."""
    held = None
    for at, data in history:
        if cutoff is None or at < cutoff:
            held = data
    return held


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payouts=st.lists(st.tuples(version_steps, st.sampled_from(UNITS)), min_size=1, max_size=6),
    registrations=st.lists(st.tuples(registration_steps, st.sampled_from(UNITS)), max_size=4),
    as_of_offset=st.integers(min_value=-2, max_value=75),
    threshold=st.integers(min_value=0, max_value=20),
    from_versions=st.booleans(),
)
def test_the_sql_lists_exactly_what_the_rules_say(
    app, payouts, registrations, as_of_offset, threshold, from_versions
):
    as_of = (START + timedelta(days=as_of_offset)).date()
    cutoff = end_of_day(as_of, ZONE) if from_versions else None
    expected: dict[str, int] = {}
    with app.app_context():
        try:
            writes = []
            hh = f.new_id()
            for steps, (commune, district) in payouts:
                pid, at, history = f.new_id(), START, []
                for version, (gap, status, due_offset) in enumerate(steps, start=1):
                    at += gap
                    due = (START + timedelta(days=due_offset)).date().isoformat()
                    data = f.payout(hh, due_date=due, status=status)
                    history.append((at, data))
                    writes.append(
                        records.VersionWrite("payouts", pid, version, data, False, commune, district, at)
                    )
                held = state_at(history, cutoff)
                if held and rules.payout_is_waiting(held["status"]):
                    due = date.fromisoformat(held["due_date"])
                    if rules.is_listed(due, as_of):
                        expected[pid] = rules.days_overdue(due, as_of)
            for steps, (commune, district) in registrations:
                rid, at, history, submitted = f.new_id(), START, [], START
                for version, (gap, status) in enumerate(steps, start=1):
                    at += gap
                    if status == "submitted":
                        submitted = at  # a (re)submission is received again
                    data = f.registration(hh, status=status, submitted_at=submitted.isoformat())
                    history.append((at, data))
                    writes.append(
                        records.VersionWrite(
                            "registrations", rid, version, data, False, commune, district, at
                        )
                    )
                held = state_at(history, cutoff)
                if held and held["status"] == rules.WAITING_REGISTRATION_STATUS:
                    received = datetime.fromisoformat(held["submitted_at"]).astimezone(ZoneInfo(ZONE)).date()
                    due = rules.after_threshold(received, threshold)
                    if rules.is_listed(due, as_of):
                        expected[rid] = rules.days_overdue(due, as_of)
            records.save_versions(writes)
            query = store.DelayQuery(
                as_of=as_of,
                kinds=(rules.PAYOUT_OVERDUE, rules.APPROVAL_OVERDUE),
                scope=Scope("province", "49"),
                unit=None,
                approval_days=threshold,
                silent_days=30,
                zone=ZONE,
                from_versions=from_versions,
            )
            got, districts = store.find_delays(query)
            assert {item["id"]: item["days_overdue"] for item in got} == expected
            days = [item["days_overdue"] for item in got]
            assert days == sorted(days, reverse=True)
            for code in {item["district_code"] for item in got}:  # the district figures
                mine = [i for i in got if i["district_code"] == code]
                payouts_late = [i for i in mine if i["kind"] == rules.PAYOUT_OVERDUE]
                assert districts[code]["total"] == len(mine)
                assert districts[code]["overdue_payout_vnd"] == sum(i["amount_vnd"] for i in payouts_late)
                assert districts[code]["worst"]["id"] == mine[0]["id"]
                assert districts[code]["worst"]["days_overdue"] == mine[0]["days_overdue"]
                assert sum(districts[code]["counts"].values()) == len(mine)
            assert set(districts) == {item["district_code"] for item in got}
            # A page read from the tally's days is the same slice of the full list, in each
            # order by days, wherever it begins and ends.
            for sort, descending in ((None, True), ("due_date", True)):  # both ways along the days
                everything = store.list_delays(query, sort=sort, descending=descending)
                for limit in (1, 2):
                    for offset in range(len(everything) + 2):
                        page, by_district = store.page_of_delays(query, limit, offset, sort, descending)
                        assert page == everything[offset : offset + limit]
                        assert by_district == districts
            assert store.find_delays(query, summarise=False)[0] == got
        finally:
            db.session.rollback()
