"""``/api/v1/<entity>`` and ``/api/v1/<entity>/<id>``: the synced records, read in scope.

Writes never come here: every change goes through ``POST /api/v1/sync/push``. Any signed-in
role may read the records of its units; a record outside them is 404, as if it did not exist.
A deleted record is still found by id (``deleted: true``, its last values, like a pulled
tombstone) and listed only with ``include_deleted=true``.
"""

from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.entities import QUERIES, RecordPage
from schemas.sync import PulledRecordSchema
from server.auth.current import current_scope, requested_unit, require_roles
from server.errors import APIError
from server.models import RecordVersion
from server.pages import decode_cursor, encode_cursor
from server.store import reads as store
from sync.records import ENTITIES

blp = Blueprint("entities", __name__, url_prefix="/api/v1", description="Records, read in scope")


def as_wire(row: RecordVersion) -> dict:
    """The contract's record shape: the same as a pulled change."""
    return {
        "entity": row.entity,
        "id": row.record_id,
        "version": row.version,
        "deleted": row.deleted,
        "data": row.data,
    }


def canonical_id(record_id: str) -> str:
    """IDs are stored as lower-case hyphenated UUIDs; anything else names no record."""
    try:
        return str(uuid.UUID(record_id))
    except ValueError as exc:
        raise APIError("not_found") from exc


def list_view(entity: str) -> type[MethodView]:
    class RecordList(MethodView):
        @blp.arguments(QUERIES[entity], location="query", unknown=RAISE)
        @blp.response(200, RecordPage)
        @require_roles()
        def get(self, args):
            """Records in the caller's units, in id order, a page at a time (keyset cursor)."""
            page = store.list_records(
                store.RecordFilter(
                    entity=entity,
                    scope=current_scope(),
                    unit=requested_unit(args["unit"]),
                    limit=args["limit"] + 1,  # one more tells whether a next page exists
                    status=args.get("status"),
                    year=args.get("year"),
                    household_id=args.get("household_id"),
                    include_deleted=args["include_deleted"],
                    after=decode_cursor(entity, args["cursor"], str),
                )
            )
            more = len(page) > args["limit"]
            page = page[: args["limit"]]
            return {
                "items": [as_wire(row) for row in page],
                "cursor": encode_cursor(entity, page[-1].record_id) if more else None,
            }

    RecordList.__name__ = f"{entity.title().replace('_', '')}List"
    return RecordList


def item_view(entity: str) -> type[MethodView]:
    class RecordItem(MethodView):
        @blp.response(200, PulledRecordSchema)
        @require_roles()
        def get(self, record_id):
            """One record at its current version; 404 outside the caller's units."""
            row = store.get_record(entity, canonical_id(record_id))
            if row is None or not current_scope().covers(row.commune_code, row.district_code):
                raise APIError("not_found", f"No such record in {entity}.")
            return as_wire(row)

    RecordItem.__name__ = f"{entity.title().replace('_', '')}Item"
    return RecordItem


for _entity in ENTITIES:
    blp.route(f"/{_entity}", endpoint=f"{_entity}_list")(list_view(_entity))
    blp.route(f"/{_entity}/<string:record_id>", endpoint=f"{_entity}_item")(item_view(_entity))
