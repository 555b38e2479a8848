"""pyodk, unmodified, against the live server: entity lists, entities, app users, form XML.

The calls a data manager's script makes (``client.entity_lists.list``,
``client.entities.list/get_table/create/update``) answer in Central's shapes, scoped to the
caller's units; a stale ``base_version`` merges or becomes a conflict through the engine.
"""

# ruff: noqa: F811 - live_server is the fixture imported below
from __future__ import annotations

import pytest
import requests
from pyodk.errors import PyODKError

from tests.factories import household, put
from tests.odk.collect import Collect
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance
from tests.odk.servers import live_server  # noqa: F401 - the fixture
from tests.odk.test_pyodk import pyodk_client

TRA_DOC, TAN_THANH = "20920", "20335"
INSTANCE_ID = f"uuid:{INSTANCE_UUID}"


@pytest.fixture
def homes(app):
    with app.app_context():
        lan = put(
            "households", household(TRA_DOC, head_name="Hồ Thị Xuân Lan", code="HN-9", village="Thôn 4")
        )
        other = put("households", household(TAN_THANH, head_name="Trần Văn Bình", code="TT-1"))
    return lan, other


def test_pyodk_lists_reads_and_filters_entities_in_the_callers_units(
    monkeypatch,
    tmp_path,
    live_server,
    auth,
    homes,
):
    lan, other = homes
    official = auth.user("commune_official", TRA_DOC)
    with pyodk_client(monkeypatch, tmp_path, live_server, official) as odk:
        lists = odk.entity_lists.list()
        assert [el.name for el in lists] == ["households", "registrations", "support_items", "payouts"]
        detail = odk.entity_lists.get("households")
        assert "village" in [p.name for p in detail.properties]
        entities = odk.entities.list(entity_list_name="households")
        assert [e.uuid for e in entities] == [lan]
        assert entities[0].currentVersion.version == 1
        assert entities[0].currentVersion.label == "Hồ Thị Xuân Lan · HN-9 · Thôn 4"
        table = odk.entities.get_table(entity_list_name="households", count=True)
        assert table["@odata.count"] == 1
        (row,) = table["value"]
        assert (row["__id"], row["village"], row["__system"]["version"]) == (lan, "Thôn 4", 1)
        assert other not in str(table)
        picked = odk.entities.get_table(
            entity_list_name="households", select="__id,head_name", filter="__system/version eq 1"
        )
        assert picked["value"] == [{"__id": lan, "head_name": "Hồ Thị Xuân Lan"}]
        none = odk.entities.get_table(
            entity_list_name="households", filter="__system/createdAt gt 2099-01-01"
        )
        assert none["value"] == []
        with pytest.raises(PyODKError, match="404"):
            odk.entities.update(other, entity_list_name="households", data={"members": "9"}, base_version=1)


def test_pyodk_creates_and_updates_entities_through_the_engine(
    monkeypatch,
    tmp_path,
    live_server,
    client,
    auth,
    homes,
):
    lan, _ = homes
    official = auth.user("commune_official", TRA_DOC)
    with pyodk_client(monkeypatch, tmp_path, live_server, official) as odk:
        created = odk.entities.create(
            label="ignored: the label is made from the record",
            entity_list_name="households",
            data={
                "code": "HN-10", "commune_code": TRA_DOC, "village": "Thôn 1", "head_name": "Alăng Văn Tú",
                "members": "3", "category": "near_poor", "ethnic_minority": "yes",
            },
        )  # fmt: skip
        assert created.currentVersion.label == "Alăng Văn Tú · HN-10 · Thôn 1"
        assert created.currentVersion.data["members"] == "3"
        updated = odk.entities.update(
            lan, entity_list_name="households", data={"members": "6"}, base_version=1
        )
        assert (updated.currentVersion.version, updated.currentVersion.data["members"]) == (2, "6")
        # A script still holding version 1 changes another field: merged, the 6 stays.
        merged = odk.entities.update(
            lan, entity_list_name="households", data={"phone": "0905123456"}, base_version=1
        )
        assert merged.currentVersion.version == 3 and merged.conflict is None
        assert (merged.currentVersion.data["members"], merged.currentVersion.data["phone"]) == (
            "6",
            "0905123456",
        )
        # ... and the same field: a conflict, the server's value kept for a person to resolve.
        clash = odk.entities.update(lan, entity_list_name="households", data={"members": "8"}, base_version=1)
        assert clash.conflict == "hard" and clash.currentVersion.conflictingProperties == ["members"]
        assert clash.currentVersion.data["members"] == "6"
    record = client.get(f"/api/v1/households/{created.uuid}", headers=auth.headers("supervisor")).get_json()
    assert (record["data"]["members"], record["data"]["ethnic_minority"]) == (3, True)
    conflicts = client.get("/api/v1/conflicts?status=open", headers=auth.headers("supervisor")).get_json()
    assert [c["record_id"] for c in conflicts["items"]] == [lan]


def test_a_collaborator_may_not_write_a_payout_through_the_entity_api(
    monkeypatch,
    tmp_path,
    live_server,
    auth,
    homes,
):
    collaborator = auth.user("collaborator", TRA_DOC)
    with (
        pyodk_client(monkeypatch, tmp_path, live_server, collaborator) as odk,
        pytest.raises(PyODKError, match="403|422"),
    ):
        odk.entities.create(
                label="x", entity_list_name="payouts",
                data={"household_id": homes[0], "kind": "reward", "recognized_year": "2020",
                      "amount_vnd": "5000000", "due_date": "2020-09-30", "status": "pending"},
            )  # fmt: skip


def test_pyodk_reads_the_form_xml_and_manages_app_users(monkeypatch, tmp_path, live_server, auth):
    admin = auth.user("admin")
    collaborator = auth.user("collaborator", TRA_DOC)
    with pyodk_client(monkeypatch, tmp_path, live_server, admin) as odk:
        xml = odk.forms.get_xml("follow_up_visit")
        assert 'id="follow_up_visit"' in xml and "jr://file-csv/support_items.csv" in xml
        # Central's app user is our device key; its display name names whose phone it is.
        (created,) = odk.projects.create_app_users(display_names=[collaborator])
        assert created.type == "field_key" and len(created.token) == 64
        listed = odk.session.get("projects/1/app-users").json()
        assert [(u["id"], u["displayName"], u["token"]) for u in listed] == [(created.id, collaborator, None)]
    # The key works as that collaborator's phone.
    phone = requests.get(
        f"{live_server}/v1/key/{created.token}/projects/1/formList",
        headers={"X-OpenRosa-Version": "1.0"},
        timeout=30,
    )
    assert phone.status_code == 200 and b"exit_registration" in phone.content


def test_a_review_comment_is_the_decisions_note_the_phone_shows(
    monkeypatch, tmp_path, live_server, client, auth
):
    collaborator = auth.user("collaborator", "20900")
    official = auth.user("commune_official", "20900")
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS).decode("utf-8")
    with pyodk_client(monkeypatch, tmp_path, live_server, collaborator) as odk:
        odk.submissions.create(xml=xml, form_id="exit_registration")
    with pyodk_client(monkeypatch, tmp_path, live_server, official) as odk:
        odk.submissions.review(
            INSTANCE_ID, "hasIssues", form_id="exit_registration", comment="Thiếu ảnh giấy cam kết"
        )
        comments = odk.submissions.list_comments(INSTANCE_ID, form_id="exit_registration")
        assert [c.body for c in comments] == ["Thiếu ảnh giấy cam kết"]
        odk.submissions.add_comment(INSTANCE_ID, "Đã gọi điện cho hộ", form_id="exit_registration")
        assert [c.body for c in odk.submissions.list_comments(INSTANCE_ID, form_id="exit_registration")] == [
            "Đã gọi điện cho hộ",
            "Thiếu ảnh giấy cam kết",
        ]
        picked = odk.submissions.get_table(form_id="exit_registration", select="__id,__system/reviewState")
        assert picked["value"] == [{"__id": INSTANCE_ID, "__system": {"reviewState": "hasIssues"}}]
    registration = client.get(
        f"/api/v1/registrations/{INSTANCE_UUID}", headers=auth.headers(username=collaborator)
    ).get_json()
    # Only the comment made with the review is the note; the later one stays a comment.
    assert (registration["data"]["status"], registration["data"]["decision_note"]) == (
        "returned",
        "Thiếu ảnh giấy cam kết",
    )
    phone = Collect(client, collaborator)
    listed = phone.download("exit_registration", "registrations.csv").get_data(as_text=True)
    assert "Thiếu ảnh giấy cam kết" in listed and INSTANCE_UUID in listed
