"""The commune official's desk: the approval queue, a registration's page and the decision."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from server.clock import programme_day, today, utcnow
from server.models import User
from server.store import accounts as account_store
from server.store import approvals as approval_store
from server.store.sync import SqlStore
from server.transactions import run_engine
from server.web import blp
from server.web.audit import list_history
from server.web.language import t
from server.web.sessions import page_actor, page_scope, page_user, require_page
from server.web.timebounds import outside_window
from sync.engine import decide_registration
from sync.errors import (
    ConflictOpenError,
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    SyncError,
    VersionConflictError,
)
from sync.holds import held_keys
from sync.lifecycles import DECIDE, DECISIONS, READ_FORMS, REGISTRATION_LIFE, SUBMITTED, may, roles_for
from sync.records import Record


@blp.route("/approvals")
@require_page(*roles_for(DECIDE))
def approvals():
    """The commune's submitted forms, oldest first, with the days each has waited."""
    threshold = current_app.config["APPROVAL_OVERDUE_DAYS"]
    day = today()
    (waiting,) = REGISTRATION_LIFE.waiting
    rows = approval_store.list_registrations_by_status(page_scope(), waiting)
    for row in rows:
        received = programme_day(row["submitted_at"]) if row["submitted_at"] else day
        row["days_waiting"] = (day - received).days
        # Late from the day after received + N, as the delay audit counts approval_overdue.
        row["overdue"] = row["days_waiting"] > threshold
    overdue = sum(1 for row in rows if row["overdue"])
    return render_template("web/approvals.html", rows=rows, threshold=threshold, overdue=overdue)


def find_in_scope(store: SqlStore, entity: str, record_id: str) -> Record:
    """The live record, or 404 - also when it lies outside the user's units (not revealed)."""
    record = store.get_record(entity, record_id.lower())
    if record is None or record.deleted or not page_scope().covers(record.commune_code, record.district_code):
        abort(404)
    return record


def find_collaborator(history: list) -> User | None:
    """Who captured the form: the author of its first version."""
    creator = next((entry.actor for entry in history if entry.action == "create"), None)
    return account_store.get_user_by_username(creator) if creator else None


def photo_url(registration_id: str) -> str | None:
    from server.web.photos import find_signed_form_photo

    if find_signed_form_photo(registration_id) is None:
        return None
    return url_for("pages.signed_form_photo", registration_id=registration_id)


@blp.route("/registrations/<registration_id>")
@require_page(*roles_for(READ_FORMS))
def registration(registration_id: str):
    """A form with its household, the collaborator, the signed photo and its history."""
    store = SqlStore()
    record = find_in_scope(store, "registrations", registration_id)
    household = store.get_record("households", record.data["household_id"])
    history = list_history("registrations", record.id)
    clock_flags = [
        flag
        for flag in [outside_window("registrations", record.id, record.data.get("signed_on"), history)]
        if flag
    ]
    holds = store.list_open_conflicts(held_keys("registrations", record.id, record.data))
    can_decide = not holds and any(
        may(page_user().role, move.act)
        for move in REGISTRATION_LIFE.moves
        if move.act == DECIDE and move.source == record.data.get("status")
    )
    return render_template(
        "web/registration.html",
        record=record,
        reg=record.data,
        household=household.data if household else {},
        household_id=household.id if household else None,
        collaborator=find_collaborator(history),
        history=history,
        can_decide=can_decide,
        clock_flags=clock_flags,
        holds=holds if record.data.get("status") == SUBMITTED else [],
        photo_url=photo_url(record.id),
    )


@blp.route("/registrations/<registration_id>/decision", methods=["POST"])
@require_page(*roles_for(DECIDE))
def decide(registration_id: str):
    """Approve, reject or return the form at the version the official was shown."""
    decision = request.form.get("decision", "")
    note = request.form.get("note", "").strip() or None
    back = url_for("pages.registration", registration_id=registration_id)
    if decision not in DECISIONS:
        abort(400)
    if DECISIONS[decision].asks_note and not note:
        flash(t("reg.note_required"), "error")
        return redirect(back)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        abort(400)
    actor = page_actor()
    try:
        record = run_engine(
            lambda store: decide_registration(
                store, actor, registration_id.lower(), decision, note, version, utcnow()
            )
        )
    except (NotFoundError, ForbiddenError) as refusal:
        abort(404 if isinstance(refusal, NotFoundError) else 403)
    except VersionConflictError:
        flash(t("decision.stale"), "error")
        return redirect(back)
    except ConflictOpenError:
        flash(t("decision.held"), "error")
        return redirect(back)
    except InvalidTransitionError:
        flash(t("decision.not_submitted"), "error")
        return redirect(back)
    except SyncError as refusal:
        flash(t("write.refused", message=refusal.message), "error")
        return redirect(back)
    household = SqlStore().get_record("households", record["data"]["household_id"])
    label = household.data["code"] if household else record["id"]
    flash(t(f"decision.done.{decision}", household=label))
    return redirect(url_for("pages.approvals"))
