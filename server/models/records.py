"""The four synced entities, as their current state in typed columns.

Typed columns let reports and the delay audit aggregate in SQL. The full history of every
record (each version's data) lives in ``record_versions`` (see ``server/models/sync.py``);
these tables are always the latest version of it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from server.extensions import db
from server.models.types import JSONType, UTCDateTime
from sync.lifecycles import PAYOUT_LIFE, REGISTRATION_LIFE, SUPPORT_ITEM_LIFE

# The partial indexes' conditions, from the lifecycles (the same text the delay audit's
# queries compile to, so the planner matches them).
(_waiting_form,) = REGISTRATION_LIFE.waiting
(_waiting_support,) = SUPPORT_ITEM_LIFE.waiting
WAITING_FORM = f"status = '{_waiting_form}'"
WAITING_SUPPORT = f"status = '{_waiting_support}'"
UNSETTLED_PAYOUT = "status NOT IN ({})".format(
    ", ".join(f"'{state}'" for state in PAYOUT_LIFE.ordered(PAYOUT_LIFE.settled))
)

#: What the delay audit reads of a late record; its partial indexes carry these columns
#: (``updated_at``: a past day reads the current row of a record unchanged since).
AUDITED_COLUMNS = ["district_code", "commune_code", "id", "household_id", "status", "updated_at"]


class SyncedRecord:
    """Columns every synced entity has: identity, version, tombstone and scope."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @declared_attr
    def commune_code(cls) -> Mapped[str]:
        return mapped_column(String(16), index=True)

    @declared_attr
    def district_code(cls) -> Mapped[str]:
        return mapped_column(String(16), index=True)


class Household(SyncedRecord, db.Model):
    __tablename__ = "households"
    __table_args__ = (
        # The few deleted households, which every report leaves out (NOT EXISTS over them).
        Index(
            "ix_households_deleted",
            "id",
            postgresql_where=text("deleted"),
            sqlite_where=text("deleted"),
            postgresql_include=["deleted_at"],
        ),
        # Possible duplicates are looked for within a commune, by each of these keys.
        Index("ix_households_commune_and_code", "commune_code", "code"),
        Index("ix_households_commune_head_name_key", "commune_code", "head_name_key"),
        Index("ix_households_commune_phone_key", "commune_code", "phone_key"),
    )

    code: Mapped[str] = mapped_column(String(64), index=True)
    village: Mapped[str] = mapped_column(String(200))
    head_name: Mapped[str] = mapped_column(String(200))
    members: Mapped[int]
    category: Mapped[str] = mapped_column(String(16))
    ethnic_minority: Mapped[bool]
    phone: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(Text)
    merged_into: Mapped[str | None] = mapped_column(String(36))
    # Derived from head_name and phone on every write (sync.duplicates.name_key, phone_key):
    # what possible duplicates are matched by.
    head_name_key: Mapped[str | None] = mapped_column(String(200))
    phone_key: Mapped[str | None] = mapped_column(String(32))


class Registration(SyncedRecord, db.Model):
    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_year_status_kind", "year", "status", "kind"),
        Index("ix_registrations_status_submitted_at", "status", "submitted_at"),
        # The delay audit reads the registrations still waiting for a decision from this
        # small partial index alone (PostgreSQL: index-only), not from the whole table.
        Index(
            "ix_registrations_waiting",
            "submitted_at",
            postgresql_where=text(f"deleted IS FALSE AND {WAITING_FORM}"),
            sqlite_where=text(f"deleted = 0 AND {WAITING_FORM}"),
            postgresql_include=AUDITED_COLUMNS,
        ),
        # The exit report numbers each household's approvals of a year in this order, and
        # reads the rest from the index alone (PostgreSQL), so a province needs no sort.
        Index(
            "ix_registrations_exit_report",
            "year",
            "status",
            "household_id",
            "kind",
            "decided_at",
            "id",
            postgresql_include=["district_code", "members", "deleted", "deleted_at"],
        ),
    )

    household_id: Mapped[str] = mapped_column(String(36), index=True)
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    members: Mapped[int]
    needs: Mapped[list] = mapped_column(JSONType)
    commitment: Mapped[bool]
    signed_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)


class SupportItem(SyncedRecord, db.Model):
    __tablename__ = "support_items"
    __table_args__ = (
        Index("ix_support_items_status_due_date", "status", "due_date"),
        # Planned items: what the delay audit reads (see ix_registrations_waiting).
        Index(
            "ix_support_items_planned",
            "due_date",
            postgresql_where=text(f"deleted IS FALSE AND {WAITING_SUPPORT}"),
            sqlite_where=text(f"deleted = 0 AND {WAITING_SUPPORT}"),
            postgresql_include=AUDITED_COLUMNS,
        ),
    )

    household_id: Mapped[str] = mapped_column(String(36), index=True)
    registration_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    funding_source: Mapped[str | None] = mapped_column(String(32))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    delivered_on: Mapped[date | None] = mapped_column(Date)


class Payout(SyncedRecord, db.Model):
    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_status_due_date", "status", "due_date"),
        # Unsettled payouts: what the delay audit reads (see ix_registrations_waiting).
        Index(
            "ix_payouts_unsettled",
            "due_date",
            postgresql_where=text(f"deleted IS FALSE AND {UNSETTLED_PAYOUT}"),
            sqlite_where=text(f"deleted = 0 AND {UNSETTLED_PAYOUT}"),
            postgresql_include=[*AUDITED_COLUMNS, "amount_vnd"],
        ),
    )

    household_id: Mapped[str] = mapped_column(String(36), index=True)
    registration_id: Mapped[str | None] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recognized_year: Mapped[int] = mapped_column(index=True)
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    disbursed_on: Mapped[date | None] = mapped_column(Date)
    confirmed_on: Mapped[date | None] = mapped_column(Date)


ENTITY_MODELS = {
    "households": Household,
    "registrations": Registration,
    "support_items": SupportItem,
    "payouts": Payout,
}
