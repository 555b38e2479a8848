"""Administrative units (province > district > commune) and the quotas set on them."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db

LEVELS = ("province", "district", "commune")
CATEGORIES = ("poor", "near_poor")


class Unit(db.Model):
    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    kind: Mapped[str | None] = mapped_column(String(50))
    mountain: Mapped[bool | None]


class Quota(db.Model):
    """A district's yearly reduction quota, or (for the province) the Resolution 13 target."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("year", "unit_code", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int]
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    category: Mapped[str] = mapped_column(String(16))
    households: Mapped[int]
