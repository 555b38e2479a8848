"""SQL for administrative units and quotas, and the one SQL form of a scope (``within``)."""

from __future__ import annotations

from sqlalchemy import select, true
from sqlalchemy.sql import ColumnElement

from server.extensions import db
from server.models import Quota, Unit
from sync.actors import COMMUNE, DISTRICT, Scope


def within(scope: Scope, columns) -> ColumnElement[bool]:
    """Rows inside ``scope``, by their ``commune_code`` / ``district_code`` columns.

    ``columns`` is a model, a table or a subquery (its ``.c``). The province holds every
    record there is: no condition, so an index on the rest of the query serves it.
    """
    cols = getattr(columns, "c", columns)
    if scope.level == COMMUNE:
        return cols.commune_code == scope.code
    if scope.level == DISTRICT:
        return cols.district_code == scope.code
    return true()


def get_unit(code: str) -> Unit | None:
    return db.session.get(Unit, code)


def list_child_units(code: str) -> list[Unit]:
    return list(
        db.session.execute(select(Unit).where(Unit.parent_code == code).order_by(Unit.code)).scalars()
    )


def list_units(level: str | None = None) -> list[Unit]:
    q = select(Unit).order_by(Unit.code)
    if level:
        q = q.where(Unit.level == level)
    return list(db.session.execute(q).scalars())


def upsert_units(rows: list[dict]) -> int:
    """Insert or update units by code, parents before children (rows come in file order)."""
    existing = {u.code: u for u in db.session.execute(select(Unit)).scalars()}
    for row in rows:
        unit = existing.get(row["code"])
        if unit is None:
            unit = Unit(code=row["code"])
            db.session.add(unit)
            existing[row["code"]] = unit
        unit.name, unit.level, unit.parent_code = row["name"], row["level"], row["parent_code"]
        unit.kind, unit.mountain = row.get("kind"), row.get("mountain")
        db.session.flush()
    return len(rows)


def upsert_quotas(rows: list[dict]) -> int:
    existing = {(q.year, q.unit_code, q.category): q for q in db.session.execute(select(Quota)).scalars()}
    for row in rows:
        key = (row["year"], row["unit_code"], row["category"])
        quota = existing.get(key)
        if quota is None:
            quota = Quota(year=row["year"], unit_code=row["unit_code"], category=row["category"])
            db.session.add(quota)
            existing[key] = quota
        quota.households = row["households"]
    db.session.flush()
    return len(rows)


def list_quota_years() -> list[int]:
    """The years that have quotas or targets, latest first."""
    q = select(Quota.year).distinct().order_by(Quota.year.desc())
    return list(db.session.execute(q).scalars())
