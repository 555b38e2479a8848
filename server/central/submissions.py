"""ODK Central's submission routes for pyodk: list, get, create, edit, review, attachments, OData.

``<instanceId>`` in a path is the submission's first instanceID (``uuid:…``, percent-encoded
by pyodk), kept for the submission's whole life; each edit's own instanceID names a version.
A user sees the submissions of their units, and their own.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request, send_file

from server.auth.current import actor_and_scope, current_user
from server.central.views import require_project
from server.clock import utcnow
from server.errors import APIError
from server.models import OdkSubmission
from server.odk.attachments import blob_path
from server.odk.odata import ODataError, parse_filter, parse_select, select_fields
from server.replica import read_on_replica
from server.store import accounts as account_store
from server.store import odk as store
from server.store.sync import SqlStore
from server.submissions.files import answering_field, attachment_directory, check_and_save_file
from server.submissions.intake import find_form, read_instance, receive_instance
from server.submissions.review import review_submission
from server.submissions.shapes import describe, format_time, render_odata_row, render_submission
from server.transactions import run_write
from sync.actors import Actor
from sync.decisions import NOTE_MAX, note_decision

BASE = "/projects/<int:project_id>/forms/<form_id>"
XML_TYPES = ("application/xml", "text/xml")

blp = Blueprint("submissions", __name__)


def find_submission(form_id: str, instance_id: str) -> OdkSubmission:
    """The visible submission of the form first sent as ``instance_id``, or 404."""
    submission = store.get_visible_submission(form_id, instance_id, actor_and_scope(current_user())[1])
    if submission is None:
        raise APIError("not_found", f"No submission {instance_id} of form {form_id!r} in your units.")
    return submission


def render_one(submission: OdkSubmission) -> dict:
    return render_submission(describe([submission], actor_and_scope(current_user())[1])[0])


def read_xml_body() -> bytes:
    if request.mimetype not in XML_TYPES:
        raise APIError(
            "unsupported_media_type", "Send the submission XML with Content-Type: application/xml."
        )
    return request.get_data()


@blp.route(BASE + "/submissions", methods=["GET"])
def list_submissions(project_id: int, form_id: str):
    """The form's submissions in the caller's units, oldest first: a bare JSON array."""
    require_project(project_id)
    find_form(form_id)
    scope = actor_and_scope(current_user())[1]
    submissions = store.list_visible_submissions(form_id, scope)
    return jsonify([render_submission(view) for view in describe(submissions, scope)])


@blp.route(BASE + "/submissions", methods=["POST"])
def create_submission(project_id: int, form_id: str):
    """A new submission from its XML (the body); 200 with the submission object."""
    require_project(project_id)
    find_form(form_id)
    intake = receive_instance(
        current_user(), read_xml_body(), [], now=utcnow(), device_hint=request.args.get("deviceID"),
        form_id=form_id,
    )  # fmt: skip
    intake.raise_refusal()
    return jsonify(render_one(intake.submission))


@blp.route(BASE + "/submissions/<instance_id>", methods=["GET"])
def get_submission(project_id: int, form_id: str, instance_id: str):
    require_project(project_id)
    return jsonify(render_one(find_submission(form_id, instance_id)))


@blp.route(BASE + "/submissions/<instance_id>", methods=["PUT"])
def edit_submission(project_id: int, form_id: str, instance_id: str):
    """An edit: the body's ``deprecatedID`` must name the submission's current version."""
    require_project(project_id)
    find_submission(form_id, instance_id)
    intake = receive_instance(
        current_user(), read_xml_body(), [], now=utcnow(), device_hint=request.args.get("deviceID"),
        form_id=form_id, edit_of=instance_id,
    )  # fmt: skip
    intake.raise_refusal()
    return jsonify(render_one(intake.submission))


@blp.route(BASE + "/submissions/<instance_id>", methods=["PATCH"])
def update_review_state(project_id: int, form_id: str, instance_id: str):
    """``{"reviewState": "approved" | "rejected" | "hasIssues"}``: the commune's decision."""
    require_project(project_id)
    submission = find_submission(form_id, instance_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - {"reviewState"}:
        raise APIError("bad_request", 'Send JSON {"reviewState": "approved" | "rejected" | "hasIssues"}.')
    review_submission(current_user(), submission, body.get("reviewState"), utcnow())
    return jsonify(render_one(store.get_submission(submission.id)))


@blp.route(BASE + "/submissions/<instance_id>/attachments", methods=["GET"])
def list_submission_attachments(project_id: int, form_id: str, instance_id: str):
    """The files the current version names: ``[{"name", "exists"}]``."""
    require_project(project_id)
    current = current_instance(find_submission(form_id, instance_id))
    present = store.list_attachments([current.id]).get(current.id, {})
    return jsonify([{"name": name, "exists": name in present} for name in current.expected_attachments])


@blp.route(BASE + "/submissions/<instance_id>/attachments/<name>", methods=["POST"])
def upload_attachment(project_id: int, form_id: str, instance_id: str, name: str):
    """One file of the current version, the raw body (chunked or not): ``{"success": true}``."""
    require_project(project_id)
    form = find_form(form_id)
    current = current_instance(find_submission(form_id, instance_id))
    if name not in current.expected_attachments:
        raise APIError("not_found", f"The submission does not name a file {name!r}.")
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    content = request.stream.read(limit + 1)
    saved = check_and_save_file(name, content, form, answering_field(read_instance(current.xml), form, name))
    now = utcnow()
    run_write(
        lambda: store.save_attachment(current.id, name, saved.sha256, saved.size, saved.content_type, now)
    )
    return jsonify({"success": True})


@blp.route(BASE + "/submissions/<instance_id>/attachments/<name>", methods=["GET"])
def download_attachment(project_id: int, form_id: str, instance_id: str, name: str):
    require_project(project_id)
    current = current_instance(find_submission(form_id, instance_id))
    attachment = store.list_attachments([current.id]).get(current.id, {}).get(name)
    if attachment is None:
        raise APIError("not_found", f"The file {name!r} has not been received.")
    path = blob_path(attachment_directory(), attachment.sha256)
    if not path.exists():
        raise APIError("not_found", f"The file {name!r} is missing from the attachment store.")
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True, download_name=name)
    # The bytes came from a phone: never let a browser guess them into something executable.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@blp.route(BASE + ".svc/Submissions", methods=["GET"])
@read_on_replica
def odata_submissions(project_id: int, form_id: str):
    """The form's submissions as OData rows; ``$top``, ``$skip``, ``$count``, ``$filter``, ``$wkt``."""
    require_project(project_id)
    form = find_form(form_id)
    top, skip = read_count("$top"), read_count("$skip") or 0
    unsupported = sorted(k for k in request.args if k.startswith("$") and k not in ODATA_OPTIONS)
    if unsupported:
        raise APIError("bad_request", f"Not supported here: {', '.join(unsupported)}.")
    try:
        keep = parse_filter(request.args["$filter"]) if request.args.get("$filter") else None
        selected = parse_select(request.args.get("$select"))
    except ODataError as exc:
        raise APIError("bad_request", str(exc), {"$filter": [str(exc)]}) from exc
    scope = actor_and_scope(current_user())[1]
    views = describe(store.list_visible_submissions(form_id, scope), scope)
    if keep is not None:
        views = [view for view in views if keep(view.filter_values)]
    page = views[skip : skip + top if top is not None else None]
    current_ids = [view.current.id for view in page if view.current is not None]
    present = store.list_attachments(current_ids)
    xml = store.list_instance_xml(current_ids)
    names = store.list_submitter_names(view.submission.submitter_id for view in page)
    context = f"{request.url_root}v1/projects/1/forms/{form_id}.svc/$metadata#Submissions"
    body: dict = {"@odata.context": context}
    if read_flag("$count"):
        body["@odata.count"] = len(views)
    body["value"] = []
    for view in page:
        row_id = view.current.id if view.current is not None else None
        row = render_odata_row(
            view, form, xml.get(row_id), names, len(present.get(row_id, {})), wkt=read_flag("$wkt")
        )
        body["value"].append(select_fields(row, selected))
    if top is not None and skip + top < len(views):
        body["@odata.nextLink"] = next_link(skip + top)
    return jsonify(body)


ODATA_OPTIONS = {"$top", "$skip", "$count", "$filter", "$wkt", "$expand", "$format", "$select"}


def read_count(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise APIError(
            "bad_request", f"{name} must be a whole number ≥ 0.", {name: ["must be a whole number"]}
        )
    return int(value)


def next_link(skip: int) -> str:
    args = request.args.to_dict()
    args["$skip"] = str(skip)
    return f"{request.base_url}?{urlencode(args)}"


def current_instance(submission: OdkSubmission):
    row = store.get_instance(submission.current_instance_id)
    if row is None:  # cannot happen: a submission is made with its first instance
        raise APIError("not_found")
    return row


def read_flag(name: str) -> bool:
    # pyodk sends Python's True as "True"; OData itself writes "true".
    return request.args.get(name, "").lower() == "true"


@blp.route(BASE + "/submissions/<instance_id>/comments", methods=["GET"])
def list_submission_comments(project_id: int, form_id: str, instance_id: str):
    """The submission's comments, newest first (Central's order): ``[{"body", "actorId", "createdAt"}]``.

    A registration's decision note made elsewhere (the JSON API, the web page) shows here too,
    as a comment of the official who decided.
    """
    require_project(project_id)
    submission = find_submission(form_id, instance_id)
    comments = [
        {"body": c.body, "actorId": c.actor_id, "createdAt": format_time(c.created_at)}
        for c in store.list_comments(submission.id)
    ]
    note = decision_note_comment(submission)
    if note is not None and note["body"] not in {c["body"] for c in comments}:
        comments.append(note)
    comments.sort(key=lambda c: c["createdAt"] or "", reverse=True)
    return jsonify(comments)


@blp.route(BASE + "/submissions/<instance_id>/comments", methods=["POST"])
def create_submission_comment(project_id: int, form_id: str, instance_id: str):
    """``{"body"}``: a comment; right after a review by the same official, the decision's note."""
    require_project(project_id)
    submission = find_submission(form_id, instance_id)
    body = request.get_json(silent=True)
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > NOTE_MAX or set(body) - {"body"}:
        raise APIError(
            "validation_error",
            f'Send JSON {{"body": <text of 1 to {NOTE_MAX} characters>}}.',
            {"body": [f"Text of 1 to {NOTE_MAX} characters."]},
        )
    user, now = current_user(), utcnow()

    def work():
        comment = store.create_comment(submission.id, user.id, text, now)
        if submission.entity == "registrations" and submission.record_id:
            engine_store = SqlStore()
            actor = Actor(user_id=user.id, username=user.username, role=user.role, unit_code=user.unit_code)
            note_decision(engine_store, actor, submission.record_id, text, now)
            engine_store.flush()
        return comment

    comment = run_write(work)
    return jsonify(
        {"body": comment.body, "actorId": comment.actor_id, "createdAt": format_time(comment.created_at)}
    )


def decision_note_comment(submission: OdkSubmission) -> dict | None:
    if submission.entity != "registrations" or not submission.record_id:
        return None
    record = SqlStore().get_record("registrations", submission.record_id)
    data = record.data if record is not None else {}
    if not data.get("decision_note") or not data.get("decided_by"):
        return None
    decider = account_store.get_user_by_username(data["decided_by"])
    return {
        "body": data["decision_note"],
        "actorId": decider.id if decider is not None else None,
        "createdAt": format_time(read_time(data.get("decided_at"))),
    }


def read_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
