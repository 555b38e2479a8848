"""Possible duplicates in the engine, on the memory store: the name's fold, the match rule,
one case per pair whatever the order households arrive in, and a settlement as the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.duplicates import HouseholdFacts, fold, match_reasons, phone_key, settle_duplicate
from sync.errors import ForbiddenError, InvalidTransitionError, ValidationFailed
from tests.engine.samples import (
    COLLABORATOR,
    NOW,
    OFFICIAL,
    change,
    household,
    new_id,
    new_store,
    push,
    registration,
)


def facts(**fields) -> HouseholdFacts:
    values = {
        "id": new_id(),
        "commune_code": "20335",
        "district_code": "502",
        "code": None,
        "village": "thon 3",
        "head_name_key": "ho thi xuan lan",
        "members": 4,
        "phone_key": None,
    } | fields
    return HouseholdFacts(**values)


def test_a_name_folds_without_diacritics_case_or_spacing():
    assert fold("Hồ Thị Xuân Lan") == fold("ho  thi XUAN lan ") == "ho thi xuan lan"
    assert fold("Đinh Văn Đức") == "dinh van duc"  # đ has no decomposition: folded by hand
    assert fold("Nguyễn") != fold("Nguyên Văn")


def test_phone_numbers_compare_by_digits_with_the_country_code_as_trunk():
    assert phone_key("0905 123 456") == phone_key("+84 905-123-456") == "0905123456"
    assert phone_key("0") is None and phone_key(None) is None


def test_the_same_name_matches_only_in_the_same_village_within_one_member():
    one = facts()
    assert match_reasons(one, facts(members=5)) == ["same_head_name"]
    assert match_reasons(one, facts(members=6)) == []
    assert match_reasons(one, facts(village="thon 4")) == []
    assert match_reasons(one, facts(commune_code="20338")) == []  # another commune: never
    assert match_reasons(one, facts(head_name_key="x", code="A", phone_key="0905")) == []
    both = facts(code="A", phone_key="0905123456")
    assert match_reasons(both, facts(code="A", phone_key="0905123456")) == [
        "same_code",
        "same_head_name",
        "same_phone",
    ]


def all_cases(store):
    return sorted((c.households, c.reasons) for c in store.duplicates.values())


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(4)), st.integers(1, 4))
def test_each_pair_has_one_case_whatever_the_order_and_batches_households_arrive_in(order, batch_size):
    """Three spellings of one family and a stranger, pushed in any order and any batches."""
    names = ["Hồ Thị Xuân Lan", "Ho Thi Xuan Lan", "HỒ THỊ XUÂN LAN", "Trần Văn Ba"]
    ids = [new_id() for _ in names]
    store = new_store()
    for start in range(0, 4, batch_size):
        chunk = order[start : start + batch_size]
        batch = [
            change("households", household(code=f"C-{i}", head_name=names[i]), record_id=ids[i])
            for i in chunk
        ]
        push(store, COLLABORATOR, *batch)
    family = sorted(ids[:3])
    expected = sorted(((a, b), ("same_head_name",)) for a in family for b in family if a < b)
    assert all_cases(store) == expected


def test_settled_same_moves_the_form_and_leaves_a_tombstone_pointing_to_the_kept_one():
    store = new_store()
    kept, dropped, form = new_id(), new_id(), new_id()
    push(store, COLLABORATOR, change("households", household(code="A"), record_id=kept))
    push(
        store,
        COLLABORATOR,
        change("households", household(code="A", head_name="Lê Văn Khác"), record_id=dropped),
        change("registrations", registration(dropped), record_id=form),
    )
    (case,) = store.duplicates.values()
    assert case.reasons == ("same_code",)
    with pytest.raises(ForbiddenError):
        settle_duplicate(store, COLLABORATOR, case.id, "same", kept, NOW)
    for decision, keep in (("same", None), ("same", new_id()), ("maybe", None)):
        with pytest.raises(ValidationFailed):
            settle_duplicate(store, OFFICIAL, case.id, decision, keep, NOW)
    answer = settle_duplicate(store, OFFICIAL, case.id, "same", kept, NOW)
    assert [(r["entity"], r["id"]) for r in answer["moved"]] == [
        ("registrations", form),
        ("households", dropped),
    ]
    assert store.get_record("registrations", form).data["household_id"] == kept
    tombstone = store.get_record("households", dropped)
    assert tombstone.deleted and tombstone.data["merged_into"] == kept
    assert [e.action for e in store.audit[-2:]] == ["merge", "merge"]
    with pytest.raises(InvalidTransitionError):
        settle_duplicate(store, OFFICIAL, case.id, "distinct", None, NOW)
    # The tombstone is left out of later matches: a new household with code A pairs with the kept one only.
    newcomer = new_id()
    push(store, COLLABORATOR, change("households", household(code="A", head_name="Ba"), record_id=newcomer))
    assert sorted(c.households for c in store.duplicates.values() if c.status == "open") == [
        tuple(sorted((kept, newcomer)))
    ]
