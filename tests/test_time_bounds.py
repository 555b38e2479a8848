"""Trusted time bounds over HTTP: a phone whose clock is a year behind. Each change's audit
entry says when it can really have been made (after the device's previous sync, before its
arrival) and flags a client_time outside; activity shows the device's clock offset; the
official's pages flag a phone date outside the window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories as f
from tests.phones import Phone, statuses
from tests.web.pages import PageSession, new_registration_data

FIRST = datetime(2020, 5, 1, 2, 0, tzinfo=UTC)  # 09:00 in Quảng Nam
LATER = datetime(2020, 5, 10, 3, 0, tzinfo=UTC)
A_YEAR = timedelta(days=366)  # 10 May 2019 -> 10 May 2020 spans 29 February 2020


class Clock:
    def __init__(self, monkeypatch):
        self.now = FIRST
        monkeypatch.setattr("server.sync.views.utcnow", lambda: self.now)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


class SkewedPhone(Phone):
    """A phone stamping each change with its own clock: the server's time plus `skew`."""

    def __init__(self, client, headers, clock, skew=timedelta(0), device_id=None):
        super().__init__(client, headers, device_id)
        self.clock, self.skew = clock, skew

    def push(self, batch_id=None, expect=200):
        stamp = (self.clock.now + self.skew).astimezone(UTC).isoformat()
        for change in self.outbox:
            change["client_time"] = stamp
        return super().push(batch_id, expect)


def audit_of(client, headers, record_id):
    resp = client.get(f"/api/v1/audit?id={record_id}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def test_a_phone_a_year_behind_is_bounded_flagged_and_its_offset_shown(app, client, auth, clock):
    name = auth.user("collaborator")
    headers = auth.headers(username=name)
    behind = SkewedPhone(client, headers, clock, -A_YEAR, device_id="samsung-a10")
    honest = SkewedPhone(client, auth.headers("collaborator"), clock, timedelta(seconds=-40))
    hh = behind.create("households", f.household(code="HH-CLOCK"))
    assert statuses(behind.sync()) == ["applied"]
    other = honest.create("households", f.household(code="HH-OK"))
    assert statuses(honest.sync()) == ["applied"]

    clock.now = LATER
    reg = behind.create(
        "registrations", new_registration_data(hh, signed_on=(LATER - A_YEAR).date().isoformat())
    )
    assert statuses(behind.push()) == ["applied"]
    honest.edit("households", other, members=5)
    assert statuses(honest.push()) == ["applied"]

    official = auth.headers("commune_official")
    (first,) = audit_of(client, official, hh)
    assert first["made_after"] is None  # the device's first sync: nothing bounds it below
    assert datetime.fromisoformat(first["made_before"]) == FIRST
    assert first["clock_suspect"] is False
    (entry,) = audit_of(client, official, reg)
    assert datetime.fromisoformat(entry["made_after"]) == FIRST  # the device's previous sync
    assert datetime.fromisoformat(entry["made_before"]) == LATER  # its arrival
    assert entry["clock_suspect"] is True
    assert datetime.fromisoformat(entry["client_time"]) == LATER - A_YEAR
    honest_edit = audit_of(client, official, other)[-1]
    assert honest_edit["clock_suspect"] is False
    assert datetime.fromisoformat(honest_edit["made_after"]) == FIRST

    activity = client.get("/api/v1/activity", headers=official).get_json()["items"]
    (row,) = [r for r in activity if r["username"] == name]
    (device,) = row["devices"]
    assert device["device_id"] == "samsung-a10"
    assert device["clock_offset_s"] == -int(A_YEAR.total_seconds())
    assert datetime.fromisoformat(device["last_sync_at"]) == LATER

    page = PageSession(app, auth.user("commune_official"))
    html = page.get(f"/web/registrations/{reg}").text
    assert f'data-clock-flags="{reg}"' in html and 'data-clock-flag="signed_on"' in html
    officer = PageSession(app, auth.user("district_officer"))
    assert f'data-clock-flags="{reg}"' in officer.get(f"/web/households/{hh}").text
    # The honest phone's form is not flagged.
    good = honest.create("registrations", new_registration_data(other, signed_on="2020-05-10"))
    assert statuses(honest.push()) == ["applied"]
    assert "data-clock-flags" not in page.get(f"/web/registrations/{good}").text


def test_a_clock_in_the_future_is_suspect_and_one_session_keeps_one_window(app, client, auth, clock):
    ahead = SkewedPhone(client, auth.headers("collaborator"), clock, timedelta(days=2))
    hh = ahead.create("households", f.household())
    ahead.sync()
    clock.now = LATER
    ahead.edit("households", hh, members=6)
    ahead.push()
    # A second batch of the same outbox, two minutes later: bounded by the same previous sync.
    clock.now = LATER + timedelta(minutes=2)
    ahead.pull()
    ahead.edit("households", hh, members=7)
    ahead.push(batch_id=str(uuid.uuid4()))
    entries = audit_of(client, auth.headers("commune_official"), hh)
    assert [e["clock_suspect"] for e in entries] == [True, True, True]
    assert [e["made_after"] and datetime.fromisoformat(e["made_after"]) for e in entries] == [
        None,
        FIRST,
        FIRST,
    ]
