"""The commune official's desk, told as the commune lives it: forms arrive from phones, the
official decides on the page, and the collaborator's phone learns the decision on its next pull."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from server.extensions import db
from server.models import AuditEntry
from tests.factories import household, registration
from tests.phones import Phone
from tests.web.pages import PageSession, capture_forms, flashes, seed


def queue_ids(html: str) -> list[str]:
    return re.findall(r'data-registration="([^"]+)"', html)


def test_the_queue_lists_the_communes_forms_oldest_first_with_overdue_marked(app, auth):
    now = datetime.now(UTC)
    ids = {}
    for days in (3, 40, 16, 15):
        hh = seed(app, "households", household(head_name=f"Chủ hộ {days} ngày"))
        ids[days] = seed(
            app, "registrations", registration(hh, submitted_at=(now - timedelta(days=days)).isoformat())
        )
    decided_hh = seed(app, "households", household())
    seed(app, "registrations", registration(decided_hh, status="approved"))
    elsewhere = seed(app, "households", household("20923"))
    seed(app, "registrations", registration(elsewhere), commune_code="20923")
    official = PageSession(app, auth.user("commune_official"))
    page = official.get("/web/approvals")
    assert queue_ids(page.text) == [ids[40], ids[16], ids[15], ids[3]]
    marks = {
        rid: mark
        for mark, rid in re.findall(r'<tr class="(overdue|)" data-registration="([^"]+)"', page.text)
    }
    # more than APPROVAL_OVERDUE_DAYS (15) days waiting is overdue; 15 days is not yet
    assert marks == {ids[40]: "overdue", ids[16]: "overdue", ids[15]: "", ids[3]: ""}
    assert "4 hồ sơ chờ duyệt, 2 quá hạn" in page.text
    assert ">40 <span" in page.text  # the days waiting shown


def test_an_official_approves_one_form_and_returns_another_and_the_phone_pulls_both(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    (hh1, reg1), (hh2, reg2) = capture_forms(phone, 2)
    official = PageSession(app, auth.user("commune_official", username="xa_trado"))
    page = official.get(f"/web/registrations/{reg1}")
    assert "Hồ Văn Số 0" in page.text and "Con giống" in page.text
    resp = official.post(f"/web/registrations/{reg1}/decision", {"decision": "approve", "version": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/web/approvals"
    queue = official.get("/web/approvals")
    assert queue_ids(queue.text) == [reg2] and flashes(queue.text)
    official.post(
        f"/web/registrations/{reg2}/decision",
        {"decision": "return", "version": "1", "note": "Thiếu chữ ký của chủ hộ"},
    )
    phone.pull()
    first, second = phone.get("registrations", reg1)["data"], phone.get("registrations", reg2)["data"]
    assert (first["status"], first["decided_by"]) == ("approved", "xa_trado")
    assert (second["status"], second["decision_note"]) == ("returned", "Thiếu chữ ký của chủ hộ")
    # the history on the page shows the decision, by whom
    page = official.get(f"/web/registrations/{reg2}")
    assert "Quyết định" in page.text and "xa_trado" in page.text and "Thiếu chữ ký của chủ hộ" in page.text


def test_returning_or_rejecting_needs_a_note(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    official = PageSession(app, auth.user("commune_official"))
    for decision in ("return", "reject"):
        resp = official.post(f"/web/registrations/{reg}/decision", {"decision": decision, "version": "1"})
        assert resp.headers["Location"] == f"/web/registrations/{reg}"
    page = official.get(f"/web/registrations/{reg}")
    assert "Cần ghi ý kiến" in page.text and "Chờ duyệt" in page.text


def test_a_form_edited_on_the_phone_meanwhile_is_not_decided_blind(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    official = PageSession(app, auth.user("commune_official"))
    official.get(f"/web/registrations/{reg}")  # the official reads version 1 ...
    phone.pull()
    phone.edit("registrations", reg, members=6)  # ... while the collaborator corrects the form
    phone.sync()
    resp = official.post(f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"})
    page = official.get(resp.headers["Location"])
    assert "Hồ sơ đã thay đổi" in page.text
    phone.pull()
    assert phone.get("registrations", reg)["data"]["status"] == "submitted"


def test_a_decided_form_cannot_be_decided_again(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    official = PageSession(app, auth.user("commune_official"))
    official.post(f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"})
    page = official.get(f"/web/registrations/{reg}")
    assert 'value="approve"' not in page.text  # no decision form on a decided registration
    resp = official.post(
        f"/web/registrations/{reg}/decision", {"decision": "reject", "version": "2", "note": "x"}
    )
    assert "không còn ở trạng thái chờ duyệt" in official.get(resp.headers["Location"]).text


def test_an_official_cannot_decide_another_communes_form(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    neighbour = PageSession(app, auth.user("commune_official", unit="20923"))
    resp = neighbour.post(f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"})
    assert resp.status_code == 404
    officer = PageSession(app, auth.user("district_officer"))
    assert (
        officer.post(
            f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"}
        ).status_code
        == 403
    )


def test_the_decision_is_audited_as_the_officials_own(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    name = auth.user("commune_official")
    PageSession(app, name).post(f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"})
    with app.app_context():
        entries = db.session.query(AuditEntry).filter_by(record_id=reg, action="decide").all()
        assert [(e.actor, e.after["status"]) for e in entries] == [(name, "approved")]


def test_conflicts_show_both_values_and_take_a_resolution(app, client, auth):
    first = Phone(client, auth.headers("collaborator"))
    second = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(first, 1)
    second.pull()
    first.edit("households", hh, village="Thôn 3")
    second.edit("households", hh, village="Thôn 5")
    first.sync()
    second.sync()
    official = PageSession(app, auth.user("commune_official"))
    page = official.get("/web/conflicts")
    assert re.search(r'class="server">Thôn 3</td>\s*<td class="device">Thôn 5</td>', page.text)
    conflict_id = re.search(r'data-conflict="([^"]+)"', page.text).group(1)
    resp = official.post(f"/web/conflicts/{conflict_id}/resolve", {"resolution": "take_device"})
    assert resp.status_code == 302
    assert "Không có xung đột nào" in official.get("/web/conflicts").text
    first.pull()
    assert first.get("households", hh)["data"]["village"] == "Thôn 5"


def test_a_conflict_resolved_field_by_field_with_a_typed_value(app, client, auth):
    first = Phone(client, auth.headers("collaborator"))
    second = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(first, 1)
    second.pull()
    first.edit("households", hh, members=5, village="Thôn 3")
    second.edit("households", hh, members=7, village="Thôn 5")
    first.sync()
    second.sync()
    official = PageSession(app, auth.user("commune_official"))  # a household is the commune's
    conflict_id = re.search(r'data-conflict="([^"]+)"', official.get("/web/conflicts").text).group(1)
    official.post(
        f"/web/conflicts/{conflict_id}/resolve",
        {"resolution": "custom", "pick_members": "other", "value_members": "6", "pick_village": "device"},
    )
    first.pull()
    data = first.get("households", hh)["data"]
    assert (data["members"], data["village"]) == (6, "Thôn 5")


def test_a_collaborator_sees_the_communes_returned_forms_on_their_start_page(app, client, auth):
    name = auth.user("collaborator")
    phone = Phone(client, auth.headers(username=name))
    [(_, reg)] = capture_forms(phone, 1)
    PageSession(app, auth.user("commune_official")).post(
        f"/web/registrations/{reg}/decision", {"decision": "return", "version": "1", "note": "Bổ sung ảnh"}
    )
    home = PageSession(app, name).get("/web/")
    assert "Bổ sung ảnh" in home.text and reg in home.text


def test_the_photo_of_the_signed_form_sent_from_odk_collect_is_on_the_page(app, client, auth):
    from tests.odk.collect import JPEG, Collect
    from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance

    photo = EXIT_REGISTRATION_ANSWERS["signed_form_photo"]
    collect = Collect(client, auth.user("collaborator", "20900"))
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, None)
    assert collect.submit(xml, {photo: JPEG}).status_code == 201
    official = PageSession(app, auth.user("commune_official", unit="20900"))
    page = official.get(f"/web/registrations/{INSTANCE_UUID}")
    url = f"/web/registrations/{INSTANCE_UUID}/photo"
    assert f'<img class="photo" src="{url}"' in page.text and "Hồ Văn Đước" in page.text
    image = official.get(url)
    assert image.status_code == 200 and image.data == JPEG and image.mimetype == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert PageSession(app, auth.user("commune_official")).get(url).status_code == 404  # Trà Đốc's official


def test_a_form_without_a_photo_says_so(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    [(_, reg)] = capture_forms(phone, 1)
    official = PageSession(app, auth.user("commune_official"))
    assert "Chưa có ảnh giấy đăng ký" in official.get(f"/web/registrations/{reg}").text
    assert official.get(f"/web/registrations/{reg}/photo").status_code == 404
