"""Field-level three-way merge of a device's record against the server's, from their common base.

A phone sends a whole record and the version it started from (the base). For each field:
only the device changed it -> take the device's value; only the server changed it -> keep the
server's; both changed it to the same value -> no conflict; both changed it differently -> a
conflict (the server's value stays, the device's is kept aside), except a set-like list field
(`needs`) to which both sides only added values, whose additions are united.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.records import SET_FIELDS


@dataclass(frozen=True)
class FieldConflict:
    """One field both sides changed differently: the three values, for a person to choose."""

    base: Any
    server: Any
    device: Any

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "server": self.server, "device": self.device}


@dataclass(frozen=True)
class MergeResult:
    """`data` is the merged record; `taken` the fields whose value came from the device and
    differs from the server's; `conflicts` the fields left at the server's value."""

    data: dict[str, Any]
    taken: frozenset[str] = frozenset()
    conflicts: Mapping[str, FieldConflict] = field(default_factory=dict)


def same_value(name: str, left: Any, right: Any) -> bool:
    """Equality as the programme means it: `needs` is a set, so order does not count."""
    if name in SET_FIELDS and isinstance(left, list) and isinstance(right, list):
        return _as_set(left) == _as_set(right)
    return left == right


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """Names of the fields whose value differs (a missing field counts as None)."""
    names = set(before) | set(after)
    return {name for name in names if not same_value(name, before.get(name), after.get(name))}


def merge_record(
    base: Mapping[str, Any], server: Mapping[str, Any], device: Mapping[str, Any]
) -> MergeResult:
    """Merge `device` into `server`, both descended from `base` (use `{}` when there is no
    common base, e.g. two devices created the same id: every differing field conflicts)."""
    merged: dict[str, Any] = {}
    taken: set[str] = set()
    conflicts: dict[str, FieldConflict] = {}
    for name in _ordered_names(server, device, base):
        b, s, d = base.get(name), server.get(name), device.get(name)
        if same_value(name, d, b) or same_value(name, d, s):
            merged[name] = s
        elif same_value(name, s, b):
            merged[name] = d
            taken.add(name)
        elif name in SET_FIELDS and _only_added(b, s) and _only_added(b, d):
            merged[name] = s + [item for item in d if item not in s]
            taken.add(name)
        else:
            merged[name] = s
            conflicts[name] = FieldConflict(b, s, d)
    return MergeResult(merged, frozenset(taken), conflicts)


def _ordered_names(*records: Mapping[str, Any]) -> list[str]:
    # Keep the server's field order so a merged record looks like the stored one.
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return list(names)


def _as_set(values: list[Any]) -> frozenset[Any]:
    return frozenset(values)


def _only_added(base: Any, side: Any) -> bool:
    base_items = base if isinstance(base, list) else [] if base is None else None
    return base_items is not None and isinstance(side, list) and _as_set(base_items) <= _as_set(side)
