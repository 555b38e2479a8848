"""All tables. Import this package so Alembic and ``db.create_all`` see every model."""

from server.models.accounts import ROLES, Device, DeviceToken, LoginFailure, RefreshToken, User, WebSession
from server.models.odk import OdkAttachment, OdkComment, OdkInstance, OdkSubmission
from server.models.records import ENTITY_MODELS, Household, Payout, Registration, SupportItem
from server.models.sync import (
    AppliedChange,
    AuditEntry,
    Conflict,
    DuplicateCase,
    RecordVersion,
    RejectedChange,
    SyncBatch,
    SyncCounter,
    SyncIndex,
    SyncIndexCount,
)
from server.models.units import CATEGORIES, LEVELS, Quota, Unit
from server.models.uploads import Upload

__all__ = [
    "ROLES",
    "CATEGORIES",
    "LEVELS",
    "ENTITY_MODELS",
    "Unit",
    "Quota",
    "User",
    "Device",
    "DeviceToken",
    "LoginFailure",
    "WebSession",
    "RefreshToken",
    "Household",
    "Registration",
    "SupportItem",
    "Payout",
    "DuplicateCase",
    "RecordVersion",
    "SyncIndex",
    "SyncIndexCount",
    "SyncCounter",
    "SyncBatch",
    "AppliedChange",
    "RejectedChange",
    "Conflict",
    "AuditEntry",
    "OdkSubmission",
    "OdkInstance",
    "OdkAttachment",
    "OdkComment",
    "Upload",
]
