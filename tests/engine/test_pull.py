"""pull: scoped, each record once at its latest version, tombstones, paging by cursor."""

import pytest

from sync.actors import Actor
from sync.engine import pull
from sync.errors import ForbiddenError, ValidationFailed
from tests.engine.samples import (
    ADMIN,
    COLLABORATOR,
    DISTRICT,
    MOUNTAIN_COLLABORATOR,
    MOUNTAIN_DISTRICT,
    NEIGHBOUR,
    SUPERVISOR,
    change,
    delete,
    household,
    new_store,
    push,
    seed_household,
)


@pytest.fixture
def store():
    store = new_store()
    seed_household(store, COLLABORATOR, code="A")
    seed_household(store, NEIGHBOUR, code="B", commune_code="20338")
    seed_household(store, MOUNTAIN_COLLABORATOR, code="C", commune_code="20437")
    return store


def codes(page):
    return sorted(c["data"]["code"] for c in page["changes"])


def test_a_first_pull_brings_everything_in_the_users_units(store):
    assert codes(pull(store, COLLABORATOR, None, 500)) == ["A"]
    assert codes(pull(store, DISTRICT, None, 500)) == ["A", "B"]
    assert codes(pull(store, MOUNTAIN_DISTRICT, None, 500)) == ["C"]
    assert codes(pull(store, SUPERVISOR, None, 500)) == ["A", "B", "C"]
    assert codes(pull(store, ADMIN, None, 500)) == ["A", "B", "C"]


def test_a_pulled_change_has_the_contract_shape(store):
    [one] = pull(store, COLLABORATOR, None, 500)["changes"]
    assert set(one) == {"entity", "id", "version", "deleted", "data"}
    assert (one["entity"], one["version"], one["deleted"]) == ("households", 1, False)


def test_with_a_cursor_only_what_changed_since_comes_each_record_once_at_its_latest(store):
    cursor = pull(store, DISTRICT, None, 500)["cursor"]
    first = change("households", household(code="D"))
    push(
        store,
        COLLABORATOR,
        first,
        change("households", household(code="D", members=5), record_id=first["id"]),
    )
    page = pull(store, DISTRICT, cursor, 500)
    assert [(c["id"], c["version"], c["data"]["members"]) for c in page["changes"]] == [(first["id"], 2, 5)]
    assert page["more"] is False


def test_nothing_new_keeps_the_cursor(store):
    cursor = pull(store, COLLABORATOR, None, 500)["cursor"]
    assert pull(store, COLLABORATOR, cursor, 500) == {
        "changes": [],
        "cursor": cursor,
        "more": False,
        "remaining": 0,
    }


def test_a_deleted_record_comes_as_a_tombstone_with_its_last_data(store):
    cursor = pull(store, COLLABORATOR, None, 500)["cursor"]
    [record] = pull(store, COLLABORATOR, None, 500)["changes"]
    push(store, COLLABORATOR, delete("households", record["id"], 1))
    [tombstone] = pull(store, COLLABORATOR, cursor, 500)["changes"]
    assert (tombstone["deleted"], tombstone["version"], tombstone["data"]["code"]) == (True, 2, "A")


def test_each_page_says_how_many_records_remain_after_it(store):
    page = pull(store, SUPERVISOR, None, 1)
    assert (len(page["changes"]), page["more"], page["remaining"]) == (1, True, 2)
    page = pull(store, SUPERVISOR, page["cursor"], 1)
    assert (page["more"], page["remaining"]) == (True, 1)
    page = pull(store, SUPERVISOR, page["cursor"], 1)
    assert (page["more"], page["remaining"]) == (False, 0)


def test_pages_follow_one_another_without_gaps_or_repeats(store):
    seen, cursor, more = [], None, True
    while more:
        page = pull(store, SUPERVISOR, cursor, 2)
        seen += [c["data"]["code"] for c in page["changes"]]
        cursor, more = page["cursor"], page["more"]
    assert sorted(seen) == ["A", "B", "C"]


def test_limits_are_checked(store):
    with pytest.raises(ValidationFailed):
        pull(store, COLLABORATOR, None, 0)
    with pytest.raises(ValidationFailed):
        pull(store, COLLABORATOR, None, 5001)


def test_a_user_of_an_unknown_unit_sees_nothing(store):
    with pytest.raises(ForbiddenError):
        pull(store, Actor(99, "ghost", "collaborator", "00000"), None, 10)
