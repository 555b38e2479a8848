"""Possible duplicates: two households that may be one, found when a household arrives.

Two collaborators of one commune may each register the same family, one typing "Hồ Thị Xuân
Lan", the other "Ho Thi Xuan Lan" on a phone without a Vietnamese keyboard. A household that
arrives (a push, an ODK form, a web page) is compared with the households of its commune (its
neighbouring villages are the same commune). It is a likely duplicate of one that has

- the same `code` (`same_code`);
- the same head's name, compared without diacritics and case, in the same village, with a
  member count within one (`same_head_name`);
- the same phone number, compared by its digits (`same_phone`).

A match is never refused - the phone was right to send what it saw - it opens a
`duplicate_suspected` case listing both households, for the commune official to settle:
`distinct` (never asked again for that pair) or `same` (one is kept, the other becomes a
tombstone pointing to it, `merged_into`, and its registrations, support items and payouts
move to the kept one as new versions every phone pulls). A pair has one case, ever: its id
derives from the two household ids.

Detection is set-based: the engine hands every household a batch wrote to the store at once
(`Store.find_duplicate_candidates`, one indexed query on a SQL store) and judges the pairs
here, so a push costs the same few statements whatever its size.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sync.actors import Actor, resolve_scope
from sync.errors import ForbiddenError, InvalidTransitionError, NotFoundError, ValidationFailed
from sync.lifecycles import SETTLE_DUPLICATES, may
from sync.records import HOUSEHOLDS, MERGED_INTO, Record
from sync.store import Store
from sync.writes import WriteContext, write_version

DUPLICATE_SUSPECTED = "duplicate_suspected"  # the kind of review item a match opens
OPEN = "open"
SETTLED = "settled"
DISTINCT = "distinct"
SAME = "same"
DECISIONS = (DISTINCT, SAME)

SAME_CODE = "same_code"
SAME_HEAD_NAME = "same_head_name"
SAME_PHONE = "same_phone"
REASONS = (SAME_CODE, SAME_HEAD_NAME, SAME_PHONE)

MERGE = "merge"  # the audit action of every write a `same` settlement makes

# Case ids derive from the pair: one pair can never have two cases.
_PAIR_NAMESPACE = uuid.UUID("0c5e7f0e-8a55-4a1c-9b7c-3f1d2e6a4b90")
_MIN_PHONE_DIGITS = 6  # fewer is a placeholder ("0", "000"), not a number


def fold(text: Any) -> str:
    """Text compared without Vietnamese diacritics, case or spacing: "Hồ  Thị Xuân Lan" and
    "ho thi xuan lan" fold alike. NFD splits tones and vowel marks off their letters; đ and
    Đ are letters of their own (no decomposition), so they become d first."""
    if not isinstance(text, str):
        return ""
    text = text.replace("đ", "d").replace("Đ", "d")
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def phone_key(phone: Any) -> str | None:
    """A phone number by its digits, the country code +84 written as the trunk 0; None when
    there is no usable number."""
    if not isinstance(phone, str):
        return None
    digits = "".join(c for c in phone if c.isdigit())
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits if len(digits) >= _MIN_PHONE_DIGITS else None


def name_key(name: Any) -> str | None:
    """The head's name as it is compared (`fold`), None when blank."""
    return fold(name) or None


@dataclass(frozen=True)
class HouseholdFacts:
    """What the match rule reads of a household."""

    id: str
    commune_code: str
    district_code: str
    code: str | None
    village: str
    head_name_key: str | None
    members: int | None
    phone_key: str | None

    @classmethod
    def of(cls, record: Record) -> HouseholdFacts:
        data = record.data
        members = data.get("members")
        return cls(
            id=record.id,
            commune_code=record.commune_code,
            district_code=record.district_code,
            code=data.get("code") or None,
            village=fold(data.get("village")),
            head_name_key=name_key(data.get("head_name")),
            members=members if isinstance(members, int) else None,
            phone_key=phone_key(data.get("phone")),
        )


def match_reasons(a: HouseholdFacts, b: HouseholdFacts) -> list[str]:
    """Why `a` and `b` may be one household (in `REASONS` order); empty: they are not."""
    if a.id == b.id or a.commune_code != b.commune_code:
        return []
    reasons = []
    if a.code and a.code == b.code:
        reasons.append(SAME_CODE)
    if (
        a.head_name_key
        and a.head_name_key == b.head_name_key
        and a.village == b.village
        and a.members is not None
        and b.members is not None
        and abs(a.members - b.members) <= 1
    ):
        reasons.append(SAME_HEAD_NAME)
    if a.phone_key and a.phone_key == b.phone_key:
        reasons.append(SAME_PHONE)
    return reasons


def pair_id(first: str, second: str) -> str:
    """The id of the case of this pair of households, whichever arrived first."""
    return str(uuid.uuid5(_PAIR_NAMESPACE, "|".join(sorted((first, second)))))


@dataclass(frozen=True)
class DuplicateCase:
    """A `duplicate_suspected` review item: two households that may be one.

    `households` is the pair in id order. Settling fills `decision` (`distinct` or `same`),
    `kept_id` (with `same`), `settled_by` and `settled_at`, and sets `status` to `settled`.
    """

    id: str
    households: tuple[str, str]
    reasons: tuple[str, ...]
    commune_code: str
    district_code: str
    opened_at: datetime
    opened_by: str
    status: str = OPEN
    decision: str | None = None
    kept_id: str | None = None
    settled_by: str | None = None
    settled_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        """The case as `GET /api/v1/duplicates` lists it."""
        return {
            "id": self.id,
            "kind": DUPLICATE_SUSPECTED,
            "status": self.status,
            "households": list(self.households),
            "reasons": list(self.reasons),
            "commune_code": self.commune_code,
            "district_code": self.district_code,
            "opened_at": self.opened_at.isoformat(),
            "opened_by": self.opened_by,
            "decision": self.decision,
            "keep": self.kept_id,
            "settled_by": self.settled_by,
            "settled_at": self.settled_at.isoformat() if self.settled_at else None,
        }


def find_duplicates(
    store: Store, arrived: Iterable[Record], actor: Actor, now: datetime
) -> list[DuplicateCase]:
    """Open a case for every likely duplicate of the households just written (`arrived`,
    their current versions; tombstones are skipped) among the households of their communes,
    the arrived ones included; return the cases opened. A pair that has a case already,
    open or settled, is left alone. Two store reads whatever the number of households."""
    facts = {record.id: HouseholdFacts.of(record) for record in arrived if not record.deleted}
    if not facts:
        return []
    # The store's copies of the arrived households may be older than this batch: ours win.
    pool = [c for c in store.find_duplicate_candidates(list(facts.values())) if c.id not in facts]
    pool.extend(facts.values())
    index: dict[tuple[str, str, str], list[HouseholdFacts]] = {}
    for household in pool:
        for key in match_keys(household):
            index.setdefault(key, []).append(household)
    found: dict[str, tuple[tuple[str, str], list[str], HouseholdFacts]] = {}
    for household in facts.values():
        for key in match_keys(household):
            for other in index.get(key, ()):
                reasons = match_reasons(household, other)
                if reasons:
                    pair = tuple(sorted((household.id, other.id)))
                    found[pair_id(*pair)] = (pair, reasons, household)
    if not found:
        return []
    known = store.get_duplicate_cases(found)
    opened = []
    for case_id in sorted(set(found) - set(known)):
        pair, reasons, household = found[case_id]
        case = DuplicateCase(
            id=case_id,
            households=pair,
            reasons=tuple(reasons),
            commune_code=household.commune_code,
            district_code=household.district_code,
            opened_at=now,
            opened_by=actor.username,
        )
        store.create_duplicate_case(case)
        opened.append(case)
    return opened


def match_keys(household: HouseholdFacts) -> list[tuple[str, str, str]]:
    """The values under which a match can be found (each reason needs one of them equal):
    a candidate shares at least one of these with the household."""
    keys = []
    if household.code:
        keys.append((household.commune_code, SAME_CODE, household.code))
    if household.head_name_key:
        keys.append((household.commune_code, SAME_HEAD_NAME, household.head_name_key))
    if household.phone_key:
        keys.append((household.commune_code, SAME_PHONE, household.phone_key))
    return keys


def settle_duplicate(
    store: Store, actor: Actor, case_id: str, decision: str, keep: str | None, now: datetime
) -> dict[str, Any]:
    """Settle an open case: `distinct` (the pair is never asked about again) or `same`.

    With `same`, `keep` names the household kept; the other one's registrations, support
    items and payouts (those not deleted) are moved to it, each as a new version audited as
    `merge`, and the other household is deleted with `merged_into` naming the kept one.
    Returns `{"duplicate": <case, settled>, "moved": [<record in wire shape>, ...]}` (the
    tombstone last).

    Raises ForbiddenError (a role that does not settle duplicates), NotFoundError (no such
    case in the actor's units), InvalidTransitionError (already settled; with `same`, a
    household of the pair deleted meanwhile) and ValidationFailed (an unknown decision,
    `keep` missing with `same`, or naming a household outside the pair).
    """
    if not may(actor.role, SETTLE_DUPLICATES):
        raise ForbiddenError("Commune officials settle possible duplicates.")
    if decision not in DECISIONS:
        raise ValidationFailed(
            "Unknown decision.", {"decision": [f"Must be one of: {', '.join(DECISIONS)}."]}
        )
    scope = resolve_scope(store, actor)
    case = store.get_duplicate_case(case_id)
    if case is None or not scope.covers(case.commune_code, case.district_code):
        raise NotFoundError("No such duplicate.")
    if case.status != OPEN:
        raise InvalidTransitionError("The duplicate is already settled.", {"status": case.status})
    if keep is not None and keep not in case.households:
        raise ValidationFailed(
            "keep is not one of the pair.", {"keep": ["Must be one of the two households."]}
        )
    if decision == SAME and keep is None:
        raise ValidationFailed("Say which household is kept.", {"keep": ["Required with same."]})
    moved: list[Record] = []
    if decision == SAME:
        (dropped_id,) = (h for h in case.households if h != keep)
        moved = _merge(store, WriteContext(actor, now), keep, dropped_id)
    settled = replace(
        case,
        status=SETTLED,
        decision=decision,
        kept_id=keep if decision == SAME else None,
        settled_by=actor.username,
        settled_at=now,
    )
    store.save_duplicate_settlement(settled)
    return {"duplicate": settled.to_wire(), "moved": [record.to_wire() for record in moved]}


def _merge(store: Store, context: WriteContext, kept_id: str, dropped_id: str) -> list[Record]:
    kept = store.get_record(HOUSEHOLDS, kept_id)
    dropped = store.get_record(HOUSEHOLDS, dropped_id)
    for household in (kept, dropped):
        if household is None or household.deleted:
            raise InvalidTransitionError(
                "A household of this pair was deleted since; settle it as distinct.",
                {"households": [kept_id, dropped_id]},
            )
    place = (kept.commune_code, kept.district_code)
    written = [
        _write_moved(store, context, record, {**record.data, "household_id": kept_id}, False, place)
        for record in sorted(store.list_household_records(dropped_id), key=lambda r: (r.entity, r.id))
        if not record.deleted
    ]
    tombstone = {**dropped.data, MERGED_INTO: kept_id}
    written.append(
        _write_moved(store, context, dropped, tombstone, True, (dropped.commune_code, dropped.district_code))
    )
    return written


def _write_moved(
    store: Store,
    context: WriteContext,
    current: Record,
    data: Mapping[str, Any],
    deleted: bool,
    place: tuple[str, str],
) -> Record:
    return write_version(
        store,
        context,
        entity=current.entity,
        record_id=current.id,
        current=current,
        data=data,
        deleted=deleted,
        place=place,
        action=MERGE,
    )


def written_households(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The households a push's results say were written (accepted with a version)."""
    return sorted(
        {
            result["id"]
            for result in results
            if result["entity"] == HOUSEHOLDS and result["status"] in ("applied", "merged", "conflict")
        }
    )
