"""SQL for administrative units and quotas."""

from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.models import Quota, Unit


def get_unit(code: str) -> Unit | None:
    return db.session.get(Unit, code)


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
