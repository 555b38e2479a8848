"""The reports' arithmetic, as plain Python over the per-district rows the store returns.

Percentages are ``Decimal`` rounded half-up to two places, as the department rounds by hand
(88.9629... -> 88.96, 12.345 -> 12.35), never binary floating point, whose ``round`` turns
2.675 into 2.67. Totals are the sums of the district rows (there are eighteen of them).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def percent(part: int, whole: int | None) -> Decimal | None:
    """``part`` as a percentage of ``whole``, half-up to two decimals; None without a whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


def quota_status(households: int, quota: int | None) -> str:
    """``exceeded`` (>), ``met`` (=), ``below`` (<) the quota, or ``no_quota``."""
    if quota is None:
        return "no_quota"
    if households > quota:
        return "exceeded"
    return "met" if households == quota else "below"


def sum_known(values) -> int | None:
    """The sum of the values that are set; None when none is."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def province_of(rows: list[dict]) -> dict | None:
    """The province the district rows belong to, as ``{"code", "name"}``."""
    for row in rows:
        if row.get("province_code"):
            return {"code": row["province_code"], "name": row["province_name"]}
    return None


def build_exit_report(year: int, as_of: date | None, rows: list[dict], whole_province: bool) -> dict:
    """The exit-registrations report of the contract from the store's district rows.

    ``whole_province`` is False for a district officer: the totals are then their
    district's, and the province's Resolution 13 target (not theirs to meet) is left null.
    """
    districts = []
    for row in rows:
        poor, quota = row["poor_households"], row["poor_quota"]
        districts.append(
            {
                "code": row["code"],
                "name": row["name"],
                "poor": {
                    "households": poor,
                    "persons": row["poor_persons"],
                    "quota": quota,
                    "pct_of_quota": percent(poor, quota),
                    "quota_status": quota_status(poor, quota),
                },
                "near_poor": {
                    "households": row["near_poor_households"],
                    "persons": row["near_poor_persons"],
                },
            }
        )
    poor = sum(d["poor"]["households"] for d in districts)
    near_poor = sum(d["near_poor"]["households"] for d in districts)
    quota = sum_known(d["poor"]["quota"] for d in districts)
    first = rows[0] if rows and whole_province else {}
    poor_target, near_poor_target = first.get("poor_target"), first.get("near_poor_target")
    return {
        "year": year,
        "as_of": as_of,
        "province": province_of(rows),
        "districts": districts,
        "totals": {
            "poor": {
                "households": poor,
                "persons": sum(d["poor"]["persons"] for d in districts),
                "quota": quota,
                "pct_of_quota": percent(poor, quota),
                "target": poor_target,
                "pct_of_target": percent(poor, poor_target),
            },
            "near_poor": {
                "households": near_poor,
                "persons": sum(d["near_poor"]["persons"] for d in districts),
                "target": near_poor_target,
                "pct_of_target": percent(near_poor, near_poor_target),
            },
        },
    }


PAYOUT_MEASURES = ("scheduled", "disbursed", "confirmed", "overdue")


def median_days(twice: int | None) -> Decimal | None:
    """A median of whole days from twice its value (the store's): a whole or a half day."""
    if twice is None:
        return None
    return (Decimal(int(twice)) / 2).quantize(Decimal("0.1"))


def build_payout_report(year: int, as_of: date, rows: list[dict]) -> dict:
    """The payouts report: per district counts and VND of each measure, and days late."""
    districts = []
    for row in rows:
        district = {"code": row["code"], "name": row["name"]}
        for measure in PAYOUT_MEASURES:
            district[measure] = {"count": row[f"{measure}_count"], "vnd": row[f"{measure}_vnd"]}
        district["median_days_late"] = median_days(row["median_days_late_x2"])
        district["worst_days_late"] = row["worst_days_late"]
        districts.append(district)
    totals: dict = {
        measure: {
            "count": sum(d[measure]["count"] for d in districts),
            "vnd": sum(d[measure]["vnd"] for d in districts),
        }
        for measure in PAYOUT_MEASURES
    }
    # The median of all late payouts in scope, computed in SQL alongside the districts'.
    totals["median_days_late"] = median_days(rows[0]["all_median_days_late_x2"]) if rows else None
    totals["worst_days_late"] = max(
        (d["worst_days_late"] for d in districts if d["worst_days_late"] is not None), default=None
    )
    return {
        "year": year,
        "as_of": as_of,
        "province": province_of(rows),
        "districts": districts,
        "totals": totals,
    }
