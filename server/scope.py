"""The one answer to "may this user see or write this unit?".

A user belongs to one unit - a commune, a district or the province - and sees that unit and
every unit below it. Records carry ``commune_code`` and ``district_code``, so a scope is
either a check on a record's codes or a SQL condition on those columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import true
from sqlalchemy.sql import ColumnElement


@dataclass(frozen=True)
class Scope:
    level: str  # province | district | commune
    unit_code: str

    def covers(self, commune_code: str | None = None, district_code: str | None = None) -> bool:
        """Is a unit (given by its commune and/or district code) inside this scope?"""
        if self.level == "province":
            return True
        if self.level == "district":
            return district_code == self.unit_code
        return commune_code is not None and commune_code == self.unit_code

    def covers_unit(self, code: str, level: str, parent_code: str | None) -> bool:
        """Is the unit ``code`` (itself of ``level``) inside this scope?"""
        if level == "province":
            return self.level == "province"
        if level == "district":
            return self.level == "province" or (self.level == "district" and code == self.unit_code)
        return self.covers(code, parent_code)

    def where(self, model_or_table) -> ColumnElement[bool]:
        """A SQL condition restricting rows with commune_code/district_code columns."""
        cols = getattr(model_or_table, "c", model_or_table)
        if self.level == "province":
            return true()
        if self.level == "district":
            return cols.district_code == self.unit_code
        return cols.commune_code == self.unit_code
