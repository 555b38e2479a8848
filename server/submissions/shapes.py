"""Submissions as ODK Central shows them: the REST object pyodk reads, and OData rows.

The review state is not stored beside the submission: it is read from the registration the
submission wrote, whenever a submission is shown, so a decision taken anywhere (the JSON
API, a ``PATCH`` from pyodk) shows at once, and the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.models import OdkInstance, OdkSubmission
from server.odk.forms import FormDefinition
from server.odk.instances import parse_untrusted_xml
from server.odk.odata import build_row
from server.store import odk as store
from server.store import records as record_store
from sync.actors import Scope
from sync.lifecycles import review_state_of


@dataclass(frozen=True)
class SubmissionView:
    """A submission with what its Central shapes need, loaded in bulk."""

    submission: OdkSubmission
    current: OdkInstance | None
    review_state: str | None
    updated_at: datetime | None
    edits: int

    @property
    def filter_values(self) -> dict[str, Any]:
        """The ``__system`` values an OData ``$filter`` compares."""
        return {
            "__system/submissionDate": self.submission.created_at,
            "__system/updatedAt": self.updated_at,
            "__system/submitterId": str(self.submission.submitter_id),
            "__system/reviewState": self.review_state,
        }


def format_time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Central writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(submissions: list[OdkSubmission], scope: Scope) -> list[SubmissionView]:
    """Views of ``submissions`` in the same order, with a handful of queries for all of them.

    The review state comes from the registration a submission wrote, read as the viewer may
    read it: a registration outside ``scope`` (the viewer's units) shows nothing.
    """
    registration_ids = [s.record_id for s in submissions if s.entity == "registrations" and s.record_id]
    registrations = {
        record_id: record
        for record_id, record in record_store.get_current("registrations", registration_ids).items()
        if scope.covers(record.commune_code, record.district_code)
    }
    currents = store.get_current_instances(submissions)
    edits = store.count_edits([s.id for s in submissions])
    views = []
    for submission in submissions:
        record = registrations.get(submission.record_id) if submission.entity == "registrations" else None
        data = record.data if record is not None else {}
        decided_at = _read_time(data.get("decided_at"))
        review_state = review_state_of(data.get("status"))
        updated_at = max((t for t in (submission.edited_at, decided_at) if t is not None), default=None)
        views.append(
            SubmissionView(
                submission, currents.get(submission.id), review_state, updated_at, edits.get(submission.id, 0)
            )  # fmt: skip
        )
    return views


def render_submission(view: SubmissionView) -> dict[str, Any]:
    """The Central submission object pyodk reads (no ``attachments`` key: pyodk adds its own)."""
    submission = view.submission
    return {
        "instanceId": submission.instance_id,
        "submitterId": submission.submitter_id,
        "deviceId": submission.device_id,
        "userAgent": None,
        "instanceName": submission.instance_name,
        "reviewState": view.review_state,
        "createdAt": format_time(submission.created_at),
        "updatedAt": format_time(view.updated_at),
        "currentInstanceId": submission.current_instance_id,
        # Ours, beside Central's: whether the engine took the current version's changes.
        "syncStatus": view.current.outcome if view.current is not None else None,
    }


def render_odata_row(
    view: SubmissionView,
    form: FormDefinition,
    xml: bytes | None,
    submitter_names: dict[int, str],
    attachments_present: int,
    *,
    wkt: bool = False,
) -> dict[str, Any]:
    """The OData row of a submission's current instance (``xml``, loaded for the page)."""
    submission, current = view.submission, view.current
    answers = build_row(parse_untrusted_xml(xml), form.fields, wkt=wkt) if xml else {}
    return {
        "__id": submission.instance_id,
        **answers,
        "__system": {
            "submissionDate": format_time(submission.created_at),
            "updatedAt": format_time(view.updated_at),
            "submitterId": str(submission.submitter_id),
            "submitterName": submitter_names.get(submission.submitter_id),
            "attachmentsPresent": attachments_present,
            "attachmentsExpected": len(current.expected_attachments) if current else 0,
            "status": None,
            "reviewState": view.review_state,
            "deviceId": submission.device_id,
            "edits": view.edits,
            "formVersion": current.form_version if current else None,
        },
    }


def _read_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
