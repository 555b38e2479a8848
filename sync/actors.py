"""Who is writing, and which units they may see and write.

Every user belongs to one unit (commune, district or province) and sees the records of that
unit and the units below it. Records carry their commune and district, so "is this record in
scope" is a comparison, never a tree walk per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sync.errors import ForbiddenError

COLLABORATOR = "collaborator"
COMMUNE_OFFICIAL = "commune_official"
DISTRICT_OFFICER = "district_officer"
SUPERVISOR = "supervisor"
ADMIN = "admin"
ROLES = (COLLABORATOR, COMMUNE_OFFICIAL, DISTRICT_OFFICER, SUPERVISOR, ADMIN)

PROVINCE = "province"
DISTRICT = "district"
COMMUNE = "commune"


@dataclass(frozen=True)
class Actor:
    """The authenticated user a request acts for."""

    user_id: Any
    username: str
    role: str
    unit_code: str


@dataclass(frozen=True)
class Scope:
    """The units an actor sees: their own unit and everything below it.

    `district_codes` lists the districts of a province-level scope (empty otherwise), so a
    store can filter a province's records with `district_code IN (...)`.
    """

    level: str
    code: str
    district_codes: frozenset[str] = frozenset()

    def covers(self, commune_code: str | None, district_code: str | None) -> bool:
        """Is a record of this commune and district inside the scope?"""
        if self.level == COMMUNE:
            return commune_code == self.code
        if self.level == DISTRICT:
            return district_code == self.code
        return district_code in self.district_codes

    def covers_unit(self, code: str, level: str, parent_code: str | None) -> bool:
        """Is the unit ``code`` (itself of ``level``, below ``parent_code``) inside the scope?"""
        if level == PROVINCE:
            return self.level == PROVINCE and code == self.code
        if level == DISTRICT:
            return (self.level == PROVINCE and parent_code == self.code) or (
                self.level == DISTRICT and code == self.code
            )
        return self.covers(code, parent_code)


class UnitLookup(Protocol):
    """The part of the store that scope resolution needs (see sync.store.Store)."""

    def get_unit(self, code: str) -> Any: ...

    def list_child_units(self, code: str) -> Iterable[Any]: ...


def resolve_scope(units: UnitLookup, actor: Actor) -> Scope:
    """The actor's scope. Raises ForbiddenError when the actor's unit is unknown."""
    unit = units.get_unit(actor.unit_code)
    if unit is None:
        raise ForbiddenError(f"Unit {actor.unit_code} of user {actor.username} is unknown.")
    return scope_of_unit(units, unit)


def scope_of_unit(units: UnitLookup, unit: Any) -> Scope:
    """The scope of everything in ``unit`` (a user's own, or a ``?unit=`` narrowing)."""
    if unit.level == PROVINCE:
        districts = frozenset(child.code for child in units.list_child_units(unit.code))
        return Scope(PROVINCE, unit.code, districts)
    return Scope(unit.level, unit.code)
