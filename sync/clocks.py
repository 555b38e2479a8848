"""Trusted time bounds: when a change can really have been made, whatever the phone's clock.

A phone stamps each change with `client_time` from its own clock, which may be a year off. The
server knows two things for sure: the change was made before it arrived (`made_before`), and
after the device's previous sync (`made_after`) - its outbox was empty of it then. Batches a
device sends minutes apart (`SESSION_GAP`) are one sync session: a large outbox goes up in
several batches, so the later batches are bounded by the sync before the session, not by the
batch just before. A `client_time` outside the window (by more than `CLOCK_TOLERANCE`, for
ordinary drift) is `clock_suspect`. The device's observed clock offset is its latest
`client_time` minus the arrival time: the freshest change is the closest to the moment of
sending, so this is the offset or a little below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sync.records import DeviceSync

SESSION_GAP = timedelta(minutes=15)
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Window:
    """A change was made after `made_after` (None: the device never synced before) and before
    `made_before`."""

    made_after: datetime | None
    made_before: datetime

    def suspect(self, client_time: str | None) -> bool:
        """Does the phone's `client_time` lie outside the window?"""
        moment = parse_time(client_time)
        if moment is None:
            return False
        if moment > self.made_before + CLOCK_TOLERANCE:
            return True
        return self.made_after is not None and moment < self.made_after - CLOCK_TOLERANCE


def window_for(device: DeviceSync | None, now: datetime) -> Window:
    """The window of the changes a device sends `now`, from what is known of its syncs."""
    if device is None or device.last_sync_at is None:
        return Window(None, now)
    if now - device.last_sync_at <= SESSION_GAP:
        return Window(device.window_start_at, now)  # the same session goes on
    return Window(device.last_sync_at, now)


def observed_offset(changes: Iterable[Mapping[str, Any]], now: datetime) -> int | None:
    """The device clock minus the server's, in whole seconds, from a batch's client times."""
    times = [moment for change in changes if (moment := parse_time(change.get("client_time"))) is not None]
    if not times:
        return None
    return round((max(times) - now).total_seconds())


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None
