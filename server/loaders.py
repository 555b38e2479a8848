"""Parsing of the setup CSV files: all-or-nothing, naming the offending line."""

from __future__ import annotations

import csv
import io

from server.models import CATEGORIES, LEVELS

UNIT_COLUMNS = ["code", "name", "level", "parent_code"]
QUOTA_COLUMNS = ["year", "unit_code", "category", "households"]


class LoadError(ValueError):
    """A setup file that must be refused as a whole; ``str()`` names the line."""


def read_rows(text: str, required: list[str], optional: list[str]) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV with the given header; the header is line 1."""
    text = text.lstrip("\ufeff")  # Excel writes a BOM
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required + optional]
    if missing:
        raise LoadError(
            f"line 1: missing column(s) {', '.join(missing)}; expected header {','.join(required)}"
        )
    if unknown:
        raise LoadError(f"line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    rows = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise LoadError(f"line {line}: too many fields")
        if any(row.get(c) is None for c in required):
            raise LoadError(f"line {line}: too few fields")
        rows.append((line, {k: (v or "").strip() for k, v in row.items()}))
    return rows


def parse_units(text: str, known: dict[str, str]) -> list[dict]:
    """Units rows, parents checked against ``known`` (code -> level) and earlier rows."""
    levels = dict(known)
    out = []
    parent_level = {"district": "province", "commune": "district"}
    for line, row in read_rows(text, UNIT_COLUMNS, ["kind", "mountain"]):
        code, level, parent = row["code"], row["level"], row["parent_code"] or None
        if not code.isdigit() or len(code) > 16:
            raise LoadError(f"line {line}: code {code!r} must be digits (the official unit code)")
        if not row["name"]:
            raise LoadError(f"line {line}: name is empty")
        if level not in LEVELS:
            raise LoadError(f"line {line}: level {level!r} must be one of {', '.join(LEVELS)}")
        if level == "province" and parent:
            raise LoadError(f"line {line}: a province has no parent_code")
        if level != "province":
            if not parent:
                raise LoadError(f"line {line}: a {level} needs a parent_code")
            if levels.get(parent) != parent_level[level]:
                raise LoadError(
                    f"line {line}: parent_code {parent!r} is not a known "
                    f"{parent_level[level]} (list parents before their children)"
                )
        mountain = row.get("mountain", "")
        if mountain not in ("", "yes", "no"):
            raise LoadError(f"line {line}: mountain must be yes or no, not {mountain!r}")
        if code in levels and levels[code] != level and code not in known:
            raise LoadError(f"line {line}: code {code} appears twice")
        levels[code] = level
        out.append(
            {
                "code": code,
                "name": row["name"],
                "level": level,
                "parent_code": parent,
                "kind": row.get("kind") or None,
                "mountain": {"yes": True, "no": False}.get(mountain),
            }
        )
    if not out:
        raise LoadError("line 2: the file has no units")
    return out


def parse_quotas(text: str, levels: dict[str, str]) -> list[dict]:
    """Quota rows; the unit must be the province (target) or a district (quota)."""
    out, seen = [], {}
    for line, row in read_rows(text, QUOTA_COLUMNS, []):
        try:
            year = int(row["year"])
        except ValueError:
            raise LoadError(f"line {line}: year {row['year']!r} is not a whole number") from None
        if not 2000 <= year <= 2100:
            raise LoadError(f"line {line}: year {year} is out of range")
        code = row["unit_code"]
        if levels.get(code) not in ("province", "district"):
            raise LoadError(f"line {line}: unit_code {code!r} is not a known province or district")
        if row["category"] not in CATEGORIES:
            raise LoadError(f"line {line}: category {row['category']!r} must be poor or near_poor")
        try:
            households = int(row["households"])
        except ValueError:
            raise LoadError(f"line {line}: households {row['households']!r} is not a whole number") from None
        if households < 0:
            raise LoadError(f"line {line}: households must not be negative")
        key = (year, code, row["category"])
        if key in seen:
            raise LoadError(f"line {line}: repeats line {seen[key]} ({year}, {code}, {row['category']})")
        seen[key] = line
        out.append({"year": year, "unit_code": code, "category": row["category"], "households": households})
    return out
