"""The three-way field merge, one case each."""

from sync.merge import FieldConflict, changed_fields, merge_record

BASE = {"village": "Thôn 1", "members": 4, "phone": None, "needs": ["livestock"]}


def test_a_field_only_the_device_changed_is_taken():
    result = merge_record(BASE, BASE, {**BASE, "members": 5})
    assert result.data["members"] == 5
    assert result.taken == {"members"}
    assert not result.conflicts


def test_a_field_only_the_server_changed_is_kept():
    result = merge_record(BASE, {**BASE, "village": "Thôn 2"}, BASE)
    assert result.data["village"] == "Thôn 2"
    assert not result.taken and not result.conflicts


def test_different_fields_changed_on_each_side_both_survive():
    result = merge_record(BASE, {**BASE, "village": "Thôn 2"}, {**BASE, "phone": "0905123456"})
    assert result.data == {**BASE, "village": "Thôn 2", "phone": "0905123456"}
    assert not result.conflicts


def test_the_same_change_on_both_sides_is_no_conflict():
    result = merge_record(BASE, {**BASE, "members": 6}, {**BASE, "members": 6})
    assert result.data["members"] == 6
    assert not result.conflicts


def test_different_changes_to_one_field_conflict_and_keep_the_server_value():
    result = merge_record(
        BASE, {**BASE, "members": 6, "village": "Thôn 2"}, {**BASE, "members": 3, "phone": "0905"}
    )
    assert result.conflicts == {"members": FieldConflict(base=4, server=6, device=3)}
    assert result.data["members"] == 6
    assert result.data["phone"] == "0905"  # the other field still applies
    assert result.data["village"] == "Thôn 2"


def test_needs_both_sides_only_added_are_united_in_stable_order():
    server = {**BASE, "needs": ["livestock", "housing"]}
    device = {**BASE, "needs": ["seedlings", "livestock", "vocational_training"]}
    result = merge_record(BASE, server, device)
    assert result.data["needs"] == ["livestock", "housing", "seedlings", "vocational_training"]
    assert not result.conflicts


def test_needs_removed_on_one_side_and_added_on_the_other_conflict():
    result = merge_record(BASE, {**BASE, "needs": []}, {**BASE, "needs": ["livestock", "housing"]})
    assert set(result.conflicts) == {"needs"}
    assert result.data["needs"] == []


def test_needs_reordered_by_the_device_is_not_a_change():
    base = {"needs": ["livestock", "housing"]}
    result = merge_record(
        base, {"needs": ["livestock", "housing", "other"]}, {"needs": ["housing", "livestock"]}
    )
    assert result.data["needs"] == ["livestock", "housing", "other"]
    assert not result.conflicts


def test_without_a_common_base_every_differing_field_conflicts():
    server = {"village": "Thôn 1", "members": 4}
    result = merge_record({}, server, {"village": "Thôn 1", "members": 5})
    assert set(result.conflicts) == {"members"}
    assert result.data == server


def test_a_missing_field_counts_as_null():
    assert changed_fields({"phone": None}, {}) == set()
    assert changed_fields({"phone": "1"}, {}) == {"phone"}
