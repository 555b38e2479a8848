"""Typed refusals of the engine, each with the snake_case `code` the contract uses.

The server maps codes to HTTP in one place; the suggested statuses are:

| exception               | code                 | HTTP |
| ----------------------- | -------------------- | ---- |
| NotFoundError           | not_found            | 404  |
| OutOfScopeError         | out_of_scope         | 404 (as `not_found`: existence is not revealed) |
| ForbiddenError          | forbidden            | 403  |
| ValidationFailed        | validation_error     | 422  |
| ReadOnlyFieldError      | read_only            | 422 (details: field -> messages) |
| LockedRecordError       | locked               | 409  |
| VersionConflictError    | version_conflict     | 409  |
| InvalidTransitionError  | invalid_transition   | 409  |
| BatchOwnerError         | batch_id_taken       | 409  |
| ConflictOpenError       | conflict_open        | 409  |

Inside a push these never escape: each becomes a `rejected` result whose `errors` is
`to_dict()` of the exception.
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every refusal; `details` is JSON-ready (for ValidationFailed: field -> messages)."""

    code = "sync_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The `{"code", "message", "details"}` triple used in push results and error bodies."""
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFoundError(SyncError):
    """The record (or conflict, or referenced record) does not exist, or is deleted."""

    code = "not_found"


class OutOfScopeError(SyncError):
    """The record or unit lies outside the caller's units."""

    code = "out_of_scope"


class ForbiddenError(SyncError):
    """The caller's role may not do this, wherever the record is."""

    code = "forbidden"


class ValidationFailed(SyncError):
    """The data is invalid; `details` maps field names to lists of messages."""

    code = "validation_error"


class ReadOnlyFieldError(SyncError):
    """A field the writer may not set: a registration's server-managed field, or a field fixed
    at creation (a household's commune, a record's household). `details`: field -> messages."""

    code = "read_only"


class LockedRecordError(SyncError):
    """The record is locked (an approved or rejected registration): nobody edits it."""

    code = "locked"


class VersionConflictError(SyncError):
    """The caller's version of the record is not the current one."""

    code = "version_conflict"


class InvalidTransitionError(SyncError):
    """The record's state does not allow this move (a decision on a decided registration,
    a payout going backwards, resolving a resolved conflict)."""

    code = "invalid_transition"


class BatchOwnerError(SyncError):
    """A batch_id already answered for another user; its response is not theirs to see."""

    code = "batch_id_taken"


class ConflictOpenError(SyncError):
    """A conflict is open on the record or its household: a decision or a payout's approval
    or disbursement waits until a person resolves it. `details.conflict_id` names it."""

    code = "conflict_open"
