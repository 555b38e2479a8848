"""ODK Central's entity API, the subset pyodk uses: datasets (entity lists) and their entities.

``households``, ``registrations``, ``support_items`` and ``payouts`` are the datasets; an
entity is the record with the same UUID, its ``__version`` the record's version. Reads are
scoped like every other read (a record outside the caller's units is 404) and list every
live record in scope; a phone's CSV copy (``server/central/lists.py``) holds only what a form
can act on. Writes are engine changes, like a phone's push: ``POST …/entities`` creates,
``PATCH …/entities/<uuid>?baseVersion=N`` updates merging against version N, so a stale
version merges field by field or becomes a conflict (``conflict: "hard"``, the fields in
``conflictingProperties``), never a silent overwrite. The label is made from the record, so
a label sent is not stored. Errors come in Central's shape (``server/errors.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from schemas.records import validate_record
from schemas.sync import ChangeSchema
from server.auth.current import actor_and_scope, current_user
from server.central.submissions import next_link, read_count, read_flag
from server.central.views import project_created_at, require_project
from server.clock import utcnow
from server.errors import APIError, refusal_error
from server.models import User
from server.odk.entity_lists import ENTITY_LISTS, PROPERTIES, build_label, format_value, read_value
from server.odk.forms import list_forms
from server.odk.odata import ENTITY_FILTER_FIELDS, ODataError, parse_filter, parse_select, select_fields
from server.replica import read_on_replica
from server.store import entity_lists as store
from server.submissions.shapes import format_time
from server.transactions import run_engine
from sync.actors import Actor
from sync.engine import push_batch
from sync.lifecycles import writers_of

DATASET = "/projects/<int:project_id>/datasets/<name>"
ODATA_OPTIONS = {"$top", "$skip", "$count", "$filter", "$select", "$format"}
USER_AGENT = "FieldSync"
blp = Blueprint("datasets", __name__)


def require_writer(name: str) -> None:
    """Asked first, so a role that never writes a list learns that before whether a record exists."""
    if current_user().role not in writers_of(name):
        raise APIError("forbidden", f"Your role does not write {name}.")


def require_dataset(project_id: int, name: str) -> str:
    require_project(project_id)
    if name not in ENTITY_LISTS:
        raise APIError("not_found", f"There is no entity list {name!r}; they are {', '.join(ENTITY_LISTS)}.")
    return name


def find_row(name: str, entity_id: str) -> dict:
    """The live record ``entity_id`` of dataset ``name`` in the caller's units, or 404."""
    try:
        canonical = str(uuid.UUID(entity_id))
    except ValueError:
        raise APIError("not_found", f"No entity {entity_id!r} in {name}.") from None
    rows = store.list_entity_rows(name, actor_and_scope(current_user())[1], ids=[canonical])
    if not rows:
        raise APIError("not_found", f"No entity {canonical} in {name} in your units.")
    return rows[0]


# -- shapes --------------------------------------------------------------------------------


def forms_reading(name: str) -> list[str]:
    """The shipped forms that select from the list (its CSV is their attachment)."""
    return [form.form_id for form in list_forms() if f"{name}.csv" in form.csv_files]


def render_dataset(name: str, *, with_properties: bool = False) -> dict[str, Any]:
    created = format_time(project_created_at())
    body: dict[str, Any] = {
        "name": name,
        "projectId": 1,
        "createdAt": created,
        "approvalRequired": False,
        "ownerOnly": False,
    }
    if with_properties:
        readers = forms_reading(name)
        body["properties"] = [
            {"name": p, "odataName": p, "publishedAt": created, "forms": readers} for p in PROPERTIES[name]
        ]
        body["linkedForms"] = [{"xmlFormId": form_id} for form_id in readers]
        body["sourceForms"] = []
    return body


def render_entities(name: str, rows: list[dict], *, with_data: bool) -> list[dict[str, Any]]:
    """Central entity objects for ``rows`` (one audit query for all of them)."""
    authors = store.list_version_authors(name, [row["id"] for row in rows])
    out = []
    for row in rows:
        creator = authors.get((row["id"], 1)) or 0
        version: dict[str, Any] = {
            "label": build_label(name, row),
            "current": True,
            "createdAt": format_time(row["updated_at"]),
            "creatorId": authors.get((row["id"], row["version"])) or creator,
            "userAgent": USER_AGENT,
            "version": row["version"],
            "baseVersion": row["version"] - 1 if row["version"] > 1 else None,
            "conflictingProperties": None,
        }
        if with_data:
            version["data"] = {p: format_value(row.get(p)) for p in PROPERTIES[name]}
        out.append(
            {
                "uuid": row["id"],
                "creatorId": creator,
                "conflict": None,
                "createdAt": format_time(row["created_at"]),
                "updatedAt": format_time(row["updated_at"]) if row["version"] > 1 else None,
                "deletedAt": None,
                "currentVersion": version,
            }
        )
    return out


def render_odata(name: str, rows: list[dict]) -> list[dict[str, Any]]:
    authors = store.list_version_authors(name, [row["id"] for row in rows])
    names = store.list_user_names(authors.values())
    out = []
    for row in rows:
        creator = authors.get((row["id"], 1))
        out.append(
            {
                "__id": row["id"],
                "label": build_label(name, row),
                **{p: format_value(row.get(p)) for p in PROPERTIES[name]},
                "__system": {
                    "createdAt": format_time(row["created_at"]),
                    "creatorId": str(creator) if creator is not None else None,
                    "creatorName": names.get(creator) if creator is not None else None,
                    "updates": row["version"] - 1,
                    "updatedAt": format_time(row["updated_at"]) if row["version"] > 1 else None,
                    "version": row["version"],
                    "conflict": None,
                },
            }
        )
    return out


def filter_values(row: dict[str, Any]) -> dict[str, Any]:
    system = row["__system"]
    return {
        "__system/createdAt": read_moment(system["createdAt"]),
        "__system/updatedAt": read_moment(system["updatedAt"]),
        "__system/creatorId": system["creatorId"],
        "__system/version": system["version"],
        "__system/conflict": system["conflict"],
    }


def read_moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


# -- reads ---------------------------------------------------------------------------------


@blp.route("/projects/<int:project_id>/datasets", methods=["GET"])
def list_datasets(project_id: int):
    require_project(project_id)
    return jsonify([render_dataset(name) for name in ENTITY_LISTS])


@blp.route(DATASET, methods=["GET"])
def get_dataset(project_id: int, name: str):
    return jsonify(render_dataset(require_dataset(project_id, name), with_properties=True))


@blp.route(DATASET + "/entities", methods=["GET"])
def list_entities(project_id: int, name: str):
    """Every live entity of the list in the caller's units (metadata; no ``data``)."""
    require_dataset(project_id, name)
    rows = store.list_entity_rows(name, actor_and_scope(current_user())[1])
    return jsonify(render_entities(name, rows, with_data=False))


@blp.route(DATASET + "/entities/<entity_id>", methods=["GET"])
def get_entity(project_id: int, name: str, entity_id: str):
    require_dataset(project_id, name)
    return jsonify(render_entities(name, [find_row(name, entity_id)], with_data=True)[0])


@blp.route(DATASET + ".svc/Entities", methods=["GET"])
@read_on_replica
def odata_entities(project_id: int, name: str):
    """The list as OData rows; ``$filter`` on ``__system``, ``$select``, ``$top``, ``$skip``, ``$count``."""
    require_dataset(project_id, name)
    unsupported = sorted(k for k in request.args if k.startswith("$") and k not in ODATA_OPTIONS)
    if unsupported:
        raise APIError("bad_request", f"Not supported here: {', '.join(unsupported)}.")
    top, skip = read_count("$top"), read_count("$skip") or 0
    try:
        keep = (
            parse_filter(request.args["$filter"], ENTITY_FILTER_FIELDS)
            if request.args.get("$filter")
            else None
        )
        selected = parse_select(request.args.get("$select"))
    except ODataError as exc:
        raise APIError("bad_request", str(exc), {"$filter": [str(exc)]}) from exc
    rows = render_odata(name, store.list_entity_rows(name, actor_and_scope(current_user())[1]))
    if keep is not None:
        rows = [row for row in rows if keep(filter_values(row))]
    page = rows[skip : skip + top if top is not None else None]
    body: dict[str, Any] = {
        "@odata.context": f"{request.url_root}v1/projects/1/datasets/{name}.svc/$metadata#Entities"
    }
    if read_flag("$count"):
        body["@odata.count"] = len(rows)
    body["value"] = [select_fields(row, selected) for row in page]
    if top is not None and skip + top < len(rows):
        body["@odata.nextLink"] = next_link(skip + top)
    return jsonify(body)


# -- writes --------------------------------------------------------------------------------


def read_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise APIError("bad_request", 'Send JSON {"uuid", "label", "data": {…}}.')
    return body


def read_properties(name: str, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise APIError(
            "bad_request", '"data" must be an object of property values.', {"data": ["must be an object"]}
        )
    return {key: read_value(name, key, value) for key, value in data.items()}


def write(
    user: User, name: str, record_id: str, base_version: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    """One engine change (an upsert of the whole record); the push result of it, committed."""
    actor = Actor(user_id=user.id, username=user.username, role=user.role, unit_code=user.unit_code)
    now = utcnow()
    try:
        change = ChangeSchema().load(
            {
                "change_id": str(uuid.uuid4()),
                "entity": name,
                "id": record_id,
                "op": "upsert",
                "base_version": base_version,
                "data": data,
                "client_time": None,
            }
        )
    except ValidationError as exc:
        raise APIError("validation_error", None, exc.normalized_messages()) from exc

    batch_id = str(uuid.uuid4())
    response = run_engine(
        lambda store: push_batch(store, actor, "central-api", batch_id, [change], now, validate_record)
    )
    result = response["results"][0]
    if result["status"] == "rejected":
        raise refusal_error(result.get("errors") or {})
    return result


@blp.route(DATASET + "/entities", methods=["POST"])
def create_entity(project_id: int, name: str):
    """``{"uuid", "label", "data"}``: a new record with that id (the label is made from it)."""
    require_dataset(project_id, name)
    require_writer(name)
    body = read_body()
    if "entities" in body:
        raise APIError("bad_request", "Create entities one at a time here.")
    try:
        record_id = str(uuid.UUID(str(body.get("uuid") or uuid.uuid4())))
    except ValueError:
        raise APIError("validation_error", "uuid must be a UUID.", {"uuid": ["must be a UUID"]}) from None
    data = read_properties(name, body.get("data"))
    write(current_user(), name, record_id, None, data)
    return jsonify(render_entities(name, [find_row(name, record_id)], with_data=True)[0])


@blp.route(DATASET + "/entities/<entity_id>", methods=["PATCH"])
def update_entity(project_id: int, name: str, entity_id: str):
    """``?baseVersion=N`` (the version the caller saw) or ``?force=true``; body ``{"data"}``."""
    require_dataset(project_id, name)
    require_writer(name)
    row = find_row(name, entity_id)
    base_text, force = request.args.get("baseVersion"), read_flag("force")
    if base_text is None and not force:
        raise APIError("bad_request", "Send ?baseVersion=<the version you saw> (or ?force=true).")
    if base_text is not None and not base_text.isdigit():
        raise APIError(
            "bad_request", "baseVersion must be a whole number.", {"baseVersion": ["must be a number"]}
        )
    if base_text is not None and not 1 <= int(base_text) <= row["version"]:
        raise APIError(
            "version_conflict",
            f"baseVersion must name a version of this entity (1 to {row['version']}).",
            {"baseVersion": ["is not a version of this entity"]},
        )
    base = int(base_text) if base_text is not None else row["version"]
    sent = read_properties(name, read_body().get("data"))
    current = store.get_record_data(name, row["id"]) or {}
    result = write(current_user(), name, row["id"], base, {**current, **sent})
    entity = render_entities(name, [find_row(name, row["id"])], with_data=True)[0]
    if result["status"] == "conflict":
        kept = store.get_record_data(name, row["id"]) or {}
        entity["conflict"] = "hard"
        entity["currentVersion"]["conflictingProperties"] = sorted(
            k for k, v in sent.items() if kept.get(k) != v
        )
    return jsonify(entity)
