"""The district officer's desk: households with their support plan and payouts, and the forms
that schedule, approve, disburse and cancel payouts and record support items.

Every form is a push through the engine (``server.web.writes``): the rules, the scope, the
versioning and the audit are the phone's.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from server.clock import today
from server.store import plans as plan_store
from server.store import units as unit_store
from server.store.sync import SqlStore
from server.web import blp
from server.web.approvals import find_in_scope
from server.web.language import t
from server.web.sessions import page_scope, page_user, require_page
from server.web.timebounds import flags_for
from server.web.writes import change, push_from_page, read_batch_id
from sync.lifecycles import (
    APPROVED,
    CANCELLED,
    DELIVERED,
    DISBURSED,
    LIFECYCLES,
    PAYOUT_LIFE,
    PLAN,
    PLANNABLE_FORMS,
    READ_DESK,
    SCHEDULE,
    SUPPORT_ITEM_LIFE,
    WRITE_ACTS,
    may,
    roles_for,
)
from sync.records import FUNDING_SOURCES, NEEDS, PAYOUT_KINDS, PAYOUTS, SUPPORT_ITEMS

PAGE_SIZE = 50

#: The desk's buttons: each action is the lifecycle's move to that status - from where, by
#: whom and which date it sets is the lifecycle's (``sync.lifecycles``).
DESK_ACTIONS = {
    PAYOUTS: {"approve": APPROVED, "disburse": DISBURSED, "cancel": CANCELLED},
    SUPPORT_ITEMS: {"deliver": DELIVERED, "cancel": CANCELLED},
}
MOVE_ENDPOINTS = {
    PAYOUTS: ("pages.move_payout", "payout_id"),
    SUPPORT_ITEMS: ("pages.move_support_item", "item_id"),
}
LABELS = {PAYOUTS: "payout", SUPPORT_ITEMS: "support"}


class FormError(ValueError):
    """A field of a page form that cannot be read; ``field`` names it."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def unit_names() -> dict[str, str]:
    if "unit_names" not in g:
        g.unit_names = {u.code: u.name for u in unit_store.list_units()}
    return g.unit_names


def communes_in_scope() -> list:
    scope = page_scope()
    return [u for u in unit_store.list_units("commune") if scope.covers_unit(u.code, u.level, u.parent_code)]


@blp.route("/households")
@require_page(*roles_for(READ_DESK))
def households():
    """Households of the user's units, a page at a time, filtered by commune or a search."""
    commune = request.args.get("commune") or None
    search = (request.args.get("q") or "").strip() or None
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    communes = communes_in_scope()
    if commune and commune not in {u.code for u in communes}:
        abort(404)
    rows, total = plan_store.list_households(
        page_scope(), commune, search, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return render_template(
        "web/households.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        communes=communes,
        commune=commune,
        search=search or "",
        names=unit_names(),
    )


@blp.route("/households/<household_id>")
@require_page(*roles_for(READ_DESK))
def household(household_id: str):
    """One household: its forms, its support plan and its payouts, with the desk's forms."""
    store = SqlStore()
    record = find_in_scope(store, "households", household_id)
    records = plan_store.list_household_records(record.id)
    payout_holds = payout_holds_of(store, record.id, records.get("payouts", []))
    clock_flags = [
        *flags_for("registrations", records.get("registrations", [])),
        *flags_for("support_items", records.get("support_items", [])),
        *flags_for("payouts", records.get("payouts", [])),
    ]
    return render_template(
        "web/household.html",
        record=record,
        hh=record.data,
        records=records,
        can_write=may(page_user().role, SCHEDULE) or may(page_user().role, PLAN),
        desk_moves=desk_moves,
        plannable=sorted(PLANNABLE_FORMS),
        names=unit_names(),
        payout_kinds=PAYOUT_KINDS,
        needs=NEEDS,
        funding_sources=FUNDING_SOURCES,
        today=today(),
        payout_holds=payout_holds,
        clock_flags=clock_flags,
    )


def desk_moves(entity: str, row: dict) -> list[dict]:
    """The buttons of one payout or support item: the moves from its status the user may make."""
    role = page_user().role
    if not may(role, WRITE_ACTS[entity]):
        return []
    endpoint, id_name = MOVE_ENDPOINTS[entity]
    buttons = []
    for action, target in DESK_ACTIONS[entity].items():
        found = LIFECYCLES[entity].move(row["status"], target)
        if found is not None and may(role, found.act):
            buttons.append(
                {
                    "url": url_for(endpoint, action=action, **{id_name: row["id"]}),
                    "sets": found.sets,
                    "label": f"{LABELS[entity]}.{action}",
                    "tone": "danger" if target == CANCELLED else "ok",
                }
            )
    return buttons


def payout_holds_of(store: SqlStore, household_id: str, payouts: list[dict]) -> list:
    """The open conflicts holding the household's unpaid payouts (on it or on one of them)."""
    waiting = [p for p in payouts if p.get("status") in PAYOUT_LIFE.waiting]
    if not waiting:
        return []
    return store.list_open_conflicts([("households", household_id), *(("payouts", p["id"]) for p in waiting)])


# -- reading the forms -------------------------------------------------------------------------
def read_text(name: str, required: bool = False) -> str | None:
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise FormError(name)
    return value or None


def read_int(name: str, required: bool = False) -> int | None:
    text = read_text(name, required)
    if text is None:
        return None
    try:
        return int(text.replace(".", "").replace(",", "").replace(" ", ""))
    except ValueError as exc:
        raise FormError(name) from exc


def read_day(name: str, required: bool = False) -> str | None:
    text = read_text(name, required)
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise FormError(name) from exc


def read_choice(name: str, choices, required: bool = True) -> str | None:
    value = read_text(name, required)
    if value is not None and value not in choices:
        raise FormError(name)
    return value


def read_registration(name: str, records: dict[str, list[dict]], required: bool) -> str | None:
    value = read_text(name, required)
    if value is not None and value not in {r["id"] for r in records["registrations"]}:
        raise FormError(name)
    return value


def report_outcome(results: list[dict], done_key: str) -> None:
    """Tell the officer what the engine did with their form."""
    failed = next((r for r in results if r["status"] in ("rejected", "conflict")), None)
    if failed is None:
        flash(t(done_key))
    elif failed["status"] == "conflict":
        flash(t("write.conflict"), "error")
    else:
        errors = failed["errors"] or {}
        fields = ", ".join(f"{k}: {'; '.join(map(str, v))}" for k, v in (errors.get("details") or {}).items())
        flash(t("write.refused", message=f"{errors.get('message', '')} {fields}".strip()), "error")


def refuse_form(error: FormError) -> None:
    flash(t("form.invalid", fields=t(f"field.{error.field}")), "error")


# -- the forms ---------------------------------------------------------------------------------
@blp.route("/households/<household_id>/payouts", methods=["POST"])
@require_page(*roles_for(SCHEDULE))
def schedule_payout(household_id: str):
    """A new payout: pending, or disbursed when it was already paid on paper."""
    record = find_in_scope(SqlStore(), "households", household_id)
    back = url_for("pages.household", household_id=record.id)
    try:
        paid_on = read_day("disbursed_on")
        data: dict[str, Any] = {
            "household_id": record.id,
            "registration_id": read_registration(
                "registration_id", plan_store.list_household_records(record.id), False
            ),
            "kind": read_choice("kind", PAYOUT_KINDS),
            "recognized_year": read_int("recognized_year", required=True),
            "amount_vnd": read_int("amount_vnd", required=True),
            "due_date": read_day("due_date", required=True),
            "status": DISBURSED if paid_on else PAYOUT_LIFE.initial,
            "disbursed_on": paid_on,
            "confirmed_on": None,
        }
    except FormError as error:
        refuse_form(error)
        return redirect(back)
    batch_id = read_batch_id(request.form.get("batch_id"))
    payout_id = str(uuid.uuid5(uuid.UUID(batch_id), "payout"))  # the same form, the same payout
    results = push_from_page(batch_id, [change(batch_id, 0, "payouts", payout_id, data, None)])
    report_outcome(results, "payout.done.schedule")
    return redirect(back)


@blp.route("/households/<household_id>/support-items", methods=["POST"])
@require_page(*roles_for(PLAN))
def record_support_item(household_id: str):
    """A new support item of the plan: planned, or delivered on a given day."""
    record = find_in_scope(SqlStore(), "households", household_id)
    back = url_for("pages.household", household_id=record.id)
    try:
        delivered_on = read_day("delivered_on")
        data = {
            "household_id": record.id,
            "registration_id": read_registration(
                "registration_id", plan_store.list_household_records(record.id), True
            ),
            "kind": read_choice("kind", NEEDS),
            "description": read_text("description"),
            "amount_vnd": read_int("amount_vnd"),
            "funding_source": read_choice("funding_source", FUNDING_SOURCES, required=False),
            "due_date": read_day("due_date"),
            "status": DELIVERED if delivered_on else SUPPORT_ITEM_LIFE.initial,
            "delivered_on": delivered_on,
        }
    except FormError as error:
        refuse_form(error)
        return redirect(back)
    batch_id = read_batch_id(request.form.get("batch_id"))
    item_id = str(uuid.uuid5(uuid.UUID(batch_id), "support_item"))
    results = push_from_page(batch_id, [change(batch_id, 0, "support_items", item_id, data, None)])
    report_outcome(results, "support.done.record")
    return redirect(back)


def move(entity: str, record_id: str, action: str, done_prefix: str):
    """Move a payout or support item along its lifecycle, from the version the officer saw."""
    if action not in DESK_ACTIONS[entity]:
        abort(404)
    store = SqlStore()
    current = find_in_scope(store, entity, record_id)
    back = url_for("pages.household", household_id=current.data["household_id"])
    target = DESK_ACTIONS[entity][action]  # the engine checks the move itself
    date_field = LIFECYCLES[entity].sets_on(target)
    try:
        version = read_int("version", required=True)
        day = read_day(date_field, required=True) if date_field else None
    except FormError as error:
        refuse_form(error)
        return redirect(back)
    seen = store.get_version(entity, current.id, version)
    if seen is None:
        abort(400)
    data = dict(seen.data)
    data["status"] = target
    if date_field:
        data[date_field] = day
    batch_id = read_batch_id(request.form.get("batch_id"))
    results = push_from_page(batch_id, [change(batch_id, 0, entity, current.id, data, version)])
    report_outcome(results, f"{done_prefix}.{action}")
    return redirect(back)


@blp.route("/payouts/<payout_id>/<action>", methods=["POST"])
@require_page(*roles_for(SCHEDULE))
def move_payout(payout_id: str, action: str):
    return move(PAYOUTS, payout_id, action, "payout.done")


@blp.route("/support-items/<item_id>/<action>", methods=["POST"])
@require_page(*roles_for(PLAN))
def move_support_item(item_id: str, action: str):
    return move(SUPPORT_ITEMS, item_id, action, "support.done")
