"""The programme's lifecycles and who may do what, as data that every room reads.

Each entity with a status has one `Lifecycle`: its states, its moves (from, to, the act that
makes the move - and so the roles that may - and the date field the move sets), and the sets
the reports, plans and delay rules count by (waiting, settled, paid, what keeps a household).
`RIGHTS` is the one table of which role may do which act: push each entity, decide, resolve,
plan, schedule, disburse, confirm, and the reading acts of the pages and the API.

The engine's rules (`sync.rules`), decisions, conflict resolution, the record schemas'
choices, the web pages' buttons and guards, the API's role checks, the report, plan and
delay queries and the ODK review mapping all read these tables; none of them spells a status
or a list of roles out. A new status, or a new right for a role, is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from sync.actors import ADMIN, COLLABORATOR, COMMUNE_OFFICIAL, DISTRICT_OFFICER, SUPERVISOR
from sync.records import HOUSEHOLDS, PAYOUTS, REGISTRATIONS, SUPPORT_ITEMS

# -- states --------------------------------------------------------------------------------
SUBMITTED = "submitted"
APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"
PLANNED = "planned"
DELIVERED = "delivered"
PENDING = "pending"
DISBURSED = "disbursed"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"

# -- acts ----------------------------------------------------------------------------------
PUSH_HOUSEHOLDS = "push_households"  # create, edit, delete households
PUSH_REGISTRATIONS = "push_registrations"  # create, edit (resubmit), delete forms
PLAN = "plan"  # create, edit, cancel, delete support items
SCHEDULE = "schedule"  # create, edit, approve, cancel, delete payouts
DELIVER = "deliver"  # record a planned support item delivered
DISBURSE = "disburse"  # record an approved payout paid out
CONFIRM = "confirm"  # record that the household confirmed a payout
DECIDE = "decide"  # approve, reject or return a submitted form
RESOLVE = "resolve"  # settle a conflict (the resolved values are a write like any other)
SETTLE_DUPLICATES = "settle_duplicates"  # two households that may be one: distinct, or the same
REPAIR = "repair"  # move statuses freely, delete what others may not (data repair)
READ_FORMS = "read_forms"  # a registration's page and photo
READ_DESK = "read_desk"  # the district desk: households with their plans and payouts
READ_DASHBOARD = "read_dashboard"  # the province dashboard and its downloads
READ_REPORTS = "read_reports"  # GET /api/v1/reports/*
READ_AUDIT = "read_audit"  # GET /api/v1/audit, the delay audit, the collaborators
READ_AUDIT_PAGE = "read_audit_page"  # the web audit trail
MANAGE_UNITS = "manage_units"  # load units and quotas through the API
MANAGE_DEVICES = "manage_devices"  # ODK device tokens
READ_ACCOUNTS = "read_accounts"  # GET /api/v1/users
MANAGE_ACCOUNTS = "manage_accounts"  # create, re-role, deactivate users, reset passwords

FIELD_STAFF = frozenset({COLLABORATOR, COMMUNE_OFFICIAL})
_DISTRICT = frozenset({DISTRICT_OFFICER, ADMIN})
_ABOVE_COLLABORATOR = frozenset({COMMUNE_OFFICIAL, DISTRICT_OFFICER, SUPERVISOR, ADMIN})

#: Which role may do which act. Every role check of the engine, the API and the pages reads it.
RIGHTS: Mapping[str, frozenset[str]] = {
    PUSH_HOUSEHOLDS: FIELD_STAFF | {ADMIN},
    PUSH_REGISTRATIONS: FIELD_STAFF | {ADMIN},
    PLAN: _DISTRICT,
    SCHEDULE: _DISTRICT,
    DELIVER: FIELD_STAFF | _DISTRICT,
    DISBURSE: _DISTRICT,
    CONFIRM: FIELD_STAFF | _DISTRICT,
    DECIDE: frozenset({COMMUNE_OFFICIAL, ADMIN}),
    RESOLVE: _ABOVE_COLLABORATOR,
    SETTLE_DUPLICATES: frozenset({COMMUNE_OFFICIAL, ADMIN}),
    REPAIR: frozenset({ADMIN}),
    READ_FORMS: FIELD_STAFF | _ABOVE_COLLABORATOR,
    READ_DESK: _ABOVE_COLLABORATOR,
    READ_DASHBOARD: frozenset({DISTRICT_OFFICER, SUPERVISOR, ADMIN}),
    READ_REPORTS: frozenset({DISTRICT_OFFICER, SUPERVISOR, ADMIN}),
    READ_AUDIT: _ABOVE_COLLABORATOR,
    READ_AUDIT_PAGE: frozenset({DISTRICT_OFFICER, SUPERVISOR, ADMIN}),
    MANAGE_UNITS: frozenset({SUPERVISOR, ADMIN}),
    MANAGE_DEVICES: frozenset({ADMIN}),
    READ_ACCOUNTS: frozenset({SUPERVISOR, ADMIN}),
    MANAGE_ACCOUNTS: frozenset({ADMIN}),
}

#: The act that writes each entity through a push (create, edit, delete).
WRITE_ACTS: Mapping[str, str] = {
    HOUSEHOLDS: PUSH_HOUSEHOLDS,
    REGISTRATIONS: PUSH_REGISTRATIONS,
    SUPPORT_ITEMS: PLAN,
    PAYOUTS: SCHEDULE,
}


def may(role: str, act: str) -> bool:
    """May `role` do `act`?"""
    return role in RIGHTS[act]


def roles_for(act: str) -> tuple[str, ...]:
    """The roles that may do `act`, in a stable order (for role guards)."""
    return tuple(sorted(RIGHTS[act]))


# -- lifecycles ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """A status move: `source` -> `target`, made by whoever may do `act`; `sets` is the date
    (or time) field the move fills in."""

    source: str
    target: str
    act: str
    sets: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """One entity's states and moves.

    `initial`: the status of a record nobody has acted on. `waiting`: still waiting for
    someone (so it can be late); `settled` is the rest. `paid`: the money has gone out.
    `locked`: nobody edits the record any more (a decided form). `keeps_household`: a record
    in one of these states is programme history its household cannot be deleted from under.
    `by_server`: devices never set the status; only the server's own moves change it.
    """

    entity: str
    states: tuple[str, ...]
    initial: str
    moves: tuple[Move, ...]
    waiting: frozenset[str]
    keeps_household: frozenset[str]
    paid: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()
    by_server: bool = False

    @property
    def settled(self) -> frozenset[str]:
        return frozenset(self.states) - self.waiting

    def ordered(self, states: frozenset[str]) -> tuple[str, ...]:
        """`states` in lifecycle order (SQL lists keep one spelling, so partial indexes match)."""
        return tuple(state for state in self.states if state in states)

    def move(self, source: str | None, target: str | None) -> Move | None:
        """The move from `source` to `target`, or None when the lifecycle has none."""
        return next((m for m in self.moves if (m.source, m.target) == (source, target)), None)

    def moves_of(self, role: str) -> tuple[Move, ...]:
        """The moves `role` may make."""
        return tuple(m for m in self.moves if may(role, m.act))

    def sets_on(self, target: str) -> str | None:
        """The date field the moves into `target` set (None: none)."""
        return next((m.sets for m in self.moves if m.target == target and m.sets), None)

    def required_dates(self, state: str) -> tuple[str, ...]:
        """The date fields a record in `state` must carry: those every way into it sets."""
        return _required_dates(self, state, frozenset())


@cache
def _required_dates(life: Lifecycle, state: str, seen: frozenset[str]) -> tuple[str, ...]:
    ways = [m for m in life.moves if m.target == state and m.source not in seen]
    if state == life.initial or not ways:
        return ()
    common: set[str] | None = None
    for way in ways:
        needed = set(_required_dates(life, way.source, seen | {state})) | ({way.sets} - {None})
        common = needed if common is None else common & needed
    return tuple(sorted(common or ()))


@dataclass(frozen=True)
class Decision:
    """A commune's decision on a submitted form: its word, the status it gives the form, the
    ODK Central ``reviewState`` that says the same, and whether the pages ask for a note (the
    collaborator needs to know why)."""

    word: str
    status: str
    review_state: str
    asks_note: bool = False


#: The decision vocabulary, by word (`POST /api/v1/registrations/<id>/decision`).
DECISIONS: Mapping[str, Decision] = {
    d.word: d
    for d in (
        Decision("approve", APPROVED, "approved"),
        Decision("reject", REJECTED, "rejected", asks_note=True),
        Decision("return", RETURNED, "hasIssues", asks_note=True),
    )
}

REGISTRATION_LIFE = Lifecycle(
    REGISTRATIONS,
    states=(SUBMITTED, APPROVED, REJECTED, RETURNED),
    initial=SUBMITTED,
    moves=(
        *(Move(SUBMITTED, d.status, DECIDE, "decided_at") for d in DECISIONS.values()),
        # A returned form that is edited comes back, received again.
        Move(RETURNED, SUBMITTED, PUSH_REGISTRATIONS, "submitted_at"),
    ),
    waiting=frozenset({SUBMITTED}),
    keeps_household=frozenset({APPROVED, REJECTED}),
    locked=frozenset({APPROVED, REJECTED}),
    by_server=True,
)

SUPPORT_ITEM_LIFE = Lifecycle(
    SUPPORT_ITEMS,
    states=(PLANNED, DELIVERED, CANCELLED),
    initial=PLANNED,
    moves=(
        Move(PLANNED, DELIVERED, DELIVER, "delivered_on"),
        Move(PLANNED, CANCELLED, PLAN),
    ),
    waiting=frozenset({PLANNED}),
    keeps_household=frozenset({PLANNED, DELIVERED}),
)

PAYOUT_LIFE = Lifecycle(
    PAYOUTS,
    states=(PENDING, APPROVED, DISBURSED, CONFIRMED, CANCELLED),
    initial=PENDING,
    moves=(
        Move(PENDING, APPROVED, SCHEDULE),
        Move(APPROVED, DISBURSED, DISBURSE, "disbursed_on"),
        Move(DISBURSED, CONFIRMED, CONFIRM, "confirmed_on"),
        Move(PENDING, CANCELLED, SCHEDULE),
        Move(APPROVED, CANCELLED, SCHEDULE),
    ),
    waiting=frozenset({PENDING, APPROVED}),
    keeps_household=frozenset({PENDING, APPROVED, DISBURSED, CONFIRMED}),
    paid=frozenset({DISBURSED, CONFIRMED}),
)

#: A support item is planned only for a form in one of these states.
PLANNABLE_FORMS = frozenset({APPROVED})

#: Every lifecycle by entity (households have none).
LIFECYCLES: Mapping[str, Lifecycle] = {
    life.entity: life for life in (REGISTRATION_LIFE, SUPPORT_ITEM_LIFE, PAYOUT_LIFE)
}


def writers_of(entity: str) -> tuple[str, ...]:
    """The roles that write `entity` at all: its push act and every move of its lifecycle (the
    engine then decides which fields, which moves, where)."""
    acts = {WRITE_ACTS[entity]}
    if entity in LIFECYCLES:
        acts |= {move.act for move in LIFECYCLES[entity].moves}
    return tuple(sorted(frozenset().union(*(RIGHTS[act] for act in acts))))


def review_state_of(status: str | None) -> str | None:
    """ODK Central's ``reviewState`` of a form in `status` (None: not reviewed yet)."""
    return next((d.review_state for d in DECISIONS.values() if d.status == status), None)


def decision_for_review_state(review_state: object) -> Decision | None:
    """The decision an ODK ``reviewState`` asks for, or None when it names none."""
    return next((d for d in DECISIONS.values() if d.review_state == review_state), None)
