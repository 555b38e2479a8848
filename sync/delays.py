"""What is late, and by how many days: the contract's delay rules as plain Python.

The server answers ``GET /api/v1/delays`` in SQL (``server/store/delays.py``) so a province's
worth of records is never loaded to be judged one by one; these functions are the same rules
for one item, the reference the SQL is tested against and what any other caller may use.

- ``payout_overdue``: a payout not disbursed, confirmed or cancelled after its ``due_date``.
- ``approval_overdue``: a registration still ``submitted`` more than N days (setting
  ``APPROVAL_OVERDUE_DAYS``) after the programme day the server received it; due on that day
  plus N. A returned form that is resubmitted is received again.
- ``support_overdue``: a support item still ``planned`` after its ``due_date``.
- ``collaborator_silent``: a collaborator whose last successful sync (or, never having
  synced, whose account's creation) is more than N days old (``COLLABORATOR_SILENT_DAYS``);
  due on that programme day plus N.
- ``duplicate_unsettled``: a possible duplicate (``sync.duplicates``) still open more than N
  days (``APPROVAL_OVERDUE_DAYS``, the commune official's own deadline) after the programme
  day it was opened; due on that day plus N.

``days_overdue`` counts whole days from the due date to ``as_of``: 0 on the due date itself,
which is not yet late, so an item is listed only from 1 on.
"""

from __future__ import annotations

from datetime import date, timedelta

from sync.lifecycles import PAYOUT_LIFE, REGISTRATION_LIFE, SUPPORT_ITEM_LIFE

PAYOUT_OVERDUE = "payout_overdue"
APPROVAL_OVERDUE = "approval_overdue"
SUPPORT_OVERDUE = "support_overdue"
COLLABORATOR_SILENT = "collaborator_silent"
DUPLICATE_UNSETTLED = "duplicate_unsettled"
KINDS = (PAYOUT_OVERDUE, APPROVAL_OVERDUE, SUPPORT_OVERDUE, COLLABORATOR_SILENT, DUPLICATE_UNSETTLED)

#: A payout in one of these states is no longer waiting for money.
SETTLED_PAYOUT_STATUSES = PAYOUT_LIFE.ordered(PAYOUT_LIFE.settled)
#: The only states in which the others are still waiting.
(WAITING_REGISTRATION_STATUS,) = REGISTRATION_LIFE.waiting
(WAITING_SUPPORT_STATUS,) = SUPPORT_ITEM_LIFE.waiting

#: ``status`` of a ``collaborator_silent`` item.
SILENT = "silent"
NEVER_SYNCED = "never_synced"


def days_overdue(due_date: date, as_of: date) -> int:
    """Whole days from ``due_date`` to ``as_of`` (negative before it is due)."""
    return (as_of - due_date).days


def is_listed(due_date: date, as_of: date) -> bool:
    """An item is late - and listed - from the day after its due date."""
    return days_overdue(due_date, as_of) >= 1


def after_threshold(day: date, threshold_days: int) -> date:
    """The due date of a wait that starts on ``day``: approval and silence alike."""
    return day + timedelta(days=threshold_days)


def payout_is_waiting(status: str) -> bool:
    return status not in SETTLED_PAYOUT_STATUSES
