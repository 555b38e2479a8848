"""Stories from the field, told with simulated phones against one server."""

from schemas.records import validate_record
from sync.engine import decide_registration, resolve_conflict
from tests.engine.phones import Phone
from tests.engine.samples import (
    COLLABORATOR,
    DISTRICT,
    MOUNTAIN_COLLABORATOR,
    NEIGHBOUR,
    OFFICIAL,
    household,
    later,
    new_store,
    payout,
    registration,
    support_item,
)


def statuses(response):
    return [result["status"] for result in response["results"]]


def test_two_phones_edit_the_same_household_offline_and_the_second_sync_merges():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    minh = Phone(store, OFFICIAL, "tablet-minh")
    hid = lan.create("households", household())
    lan.push(later(0))
    minh.pull()

    # Both go out to the village without signal.
    lan.edit("households", hid, phone="0905123456")
    minh.edit("households", hid, village="Khối phố 5", members=5)

    assert statuses(minh.push(later(60))) == ["applied"]
    assert statuses(lan.push(later(90))) == ["merged"]

    lan.pull()
    minh.pull()
    expected = store.get_record("households", hid).data
    assert expected["phone"] == "0905123456" and expected["village"] == "Khối phố 5"
    assert lan.records[("households", hid)].data == minh.records[("households", hid)].data == expected


def test_two_phones_disagree_on_household_size_and_the_commune_settles_it():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    hoa = Phone(store, COLLABORATOR, "phone-lan-2")
    hid = lan.create("households", household(members=4))
    lan.push(later(0))
    hoa.pull()

    lan.edit("households", hid, members=5, notes="Con trai mới sinh")
    hoa.edit("households", hid, members=3)
    lan.push(later(10))
    response = hoa.push(later(20))
    assert statuses(response) == ["conflict"]
    # Nothing hoa typed is lost: it waits in the conflict.
    conflict_id = response["results"][0]["conflict_id"]
    assert store.get_conflict(conflict_id).fields["members"] == {"base": 4, "server": 5, "device": 3}

    resolve_conflict(store, OFFICIAL, conflict_id, "take_device", None, later(30), validate_record)
    lan.pull()
    hoa.pull()
    assert lan.records[("households", hid)].data["members"] == 3
    assert lan.records[("households", hid)].data["notes"] == "Con trai mới sinh"
    assert lan.records[("households", hid)] == hoa.records[("households", hid)]


def test_a_form_returned_for_a_signature_is_fixed_offline_and_resubmitted():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    hid = lan.create("households", household())
    rid = lan.create("registrations", registration(hid, commitment=False))
    assert statuses(lan.push(later(0))) == ["applied", "applied"]

    decide_registration(store, OFFICIAL, rid, "return", "Hộ chưa ký cam kết", 1, later(60 * 24))
    lan.pull()
    assert lan.records[("registrations", rid)].data["decision_note"] == "Hộ chưa ký cam kết"

    lan.edit("registrations", rid, commitment=True)
    assert statuses(lan.push(later(60 * 48))) == ["applied"]
    resubmitted = store.get_record("registrations", rid).data
    assert (resubmitted["status"], resubmitted["submitted_at"]) == ("submitted", later(60 * 48).isoformat())

    decide_registration(store, OFFICIAL, rid, "approve", None, 3, later(60 * 50))
    lan.edit("registrations", rid, members=9)
    [result] = lan.push(later(60 * 51))["results"]
    assert (result["status"], result["errors"]["code"]) == ("rejected", "locked")


def test_a_phone_that_lost_the_response_sends_the_batch_again_and_nothing_doubles():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    hid = lan.create("households", household())
    lan.create("registrations", registration(hid))
    first = lan.push(later(0))
    again = lan.resend(0, later(5))
    assert again == first
    assert len(store.versions) == 2 and len(store.audit) == 2


def test_a_support_plan_is_delivered_and_its_payout_confirmed_from_the_village():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    desk = Phone(store, DISTRICT, "web-phong")
    hid = lan.create("households", household())
    rid = lan.create("registrations", registration(hid))
    lan.push(later(0))
    decide_registration(store, OFFICIAL, rid, "approve", None, 1, later(60))

    desk.pull()
    item = desk.create("support_items", support_item(hid, rid))
    paid = desk.create(
        "payouts", payout(hid, registration_id=rid, status="disbursed", disbursed_on="2020-05-10")
    )
    assert statuses(desk.push(later(120))) == ["applied", "applied"]

    lan.pull()
    lan.edit("support_items", item, status="delivered", delivered_on="2020-05-20")
    lan.edit("payouts", paid, status="confirmed", confirmed_on="2020-05-21")
    assert statuses(lan.push(later(200))) == ["applied", "applied"]
    desk.pull()
    assert desk.records[("payouts", paid)].data["status"] == "confirmed"


def test_a_mountain_collaborator_syncs_after_a_week_and_sees_only_her_commune():
    store = new_store()
    lan = Phone(store, COLLABORATOR, "phone-lan")
    hoa = Phone(store, NEIGHBOUR, "phone-hoa")
    a_lang = Phone(store, MOUNTAIN_COLLABORATOR, "phone-alang")
    lan.create("households", household())
    hoa.create("households", household(commune_code="20338", code="HN-20338-001"))
    mine = a_lang.create("households", household(commune_code="20437", code="HN-20437-001"))
    for phone in (lan, hoa):
        phone.push(later(0))
    a_lang.push(later(60 * 24 * 7))
    a_lang.pull()
    assert set(a_lang.records) == {("households", mine)}
