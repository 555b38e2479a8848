"""Conflicts hold the money, over HTTP: while two phones disagree about a household (or about
the form or payout itself), the form is not decided and the payout neither approved nor
disbursed - `conflict_open`, naming the conflict - and resolving it lifts the hold."""

from __future__ import annotations

from tests import factories as f
from tests.phones import Phone, statuses
from tests.web.pages import PageSession, flashes, new_registration_data


def decide(client, headers, registration_id, version, expect):
    resp = client.post(
        f"/api/v1/registrations/{registration_id}/decision",
        json={"decision": "approve", "note": None, "version": version},
        headers=headers,
    )
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def household_in_conflict(client, auth):
    """Two collaborators' phones change the same household's head name offline."""
    first = Phone(client, auth.headers("collaborator"))
    hh = first.create("households", f.household(code="HH-HOLD"))
    reg = first.create("registrations", new_registration_data(hh))
    assert statuses(first.sync()) == ["applied", "applied"]
    second = Phone(client, auth.headers("collaborator"))
    second.pull()
    first.edit("households", hh, head_name="Hồ Văn Một")
    second.edit("households", hh, head_name="Hồ Văn Hai")
    assert statuses(first.sync()) == ["applied"]
    answer = second.push()
    assert statuses(answer) == ["conflict"]
    return hh, reg, answer["results"][0]["conflict_id"]


def resolve(client, headers, conflict_id):
    url = f"/api/v1/conflicts/{conflict_id}/resolve"
    resp = client.post(url, json={"resolution": "keep_server"}, headers=headers)
    assert resp.status_code == 200, resp.get_json()


def test_an_open_conflict_on_the_household_holds_the_decision_until_resolved(app, client, auth):
    hh, reg, conflict_id = household_in_conflict(client, auth)
    official = auth.headers("commune_official")
    refused = decide(client, official, reg, 1, 409)["error"]
    assert refused["code"] == "conflict_open"
    assert refused["details"]["conflict_id"] == conflict_id
    resolve(client, official, conflict_id)
    assert decide(client, official, reg, 1, 200)["data"]["status"] == "approved"


def test_an_open_conflict_holds_the_payout_in_a_push_then_resolving_lifts_it(app, client, auth):
    hh, reg, conflict_id = household_in_conflict(client, auth)
    official = auth.headers("commune_official")
    resolve(client, official, conflict_id)
    decide(client, official, reg, 1, 200)
    desk = Phone(client, auth.headers("district_officer"), device_id="desk")
    payout = desk.create("payouts", f.payout(hh, reg))
    assert statuses(desk.sync()) == ["applied"]  # scheduling (pending) is not held

    # The household is in conflict again: approval waits.
    _, _, again = household_in_conflict_on(client, auth, hh)
    desk.edit("payouts", payout, status="approved")
    answer = desk.push()
    (result,) = answer["results"]
    assert result["status"] == "rejected"
    assert result["errors"]["code"] == "conflict_open"
    assert result["errors"]["details"]["conflict_id"] == again
    desk.pull()
    assert desk.get("payouts", payout)["data"]["status"] == "pending"

    # A payout created straight as approved is an approval: held too.
    other = desk.create("payouts", f.payout(hh, reg, kind="tuition", status="approved"))
    (created,) = desk.push()["results"]
    assert (created["id"], created["status"]) == (other, "rejected")
    assert created["errors"]["code"] == "conflict_open"

    resolve(client, official, again)
    desk.edit("payouts", payout, status="approved")
    assert statuses(desk.sync()) == ["applied"]
    desk.edit("payouts", payout, status="disbursed", disbursed_on="2020-10-01")
    assert statuses(desk.sync()) == ["applied"]


def household_in_conflict_on(client, auth, hh):
    first = Phone(client, auth.headers("collaborator"))
    second = Phone(client, auth.headers("collaborator"))
    first.pull()
    second.pull()
    first.edit("households", hh, village="Thôn 5")
    second.edit("households", hh, village="Thôn 6")
    assert statuses(first.sync()) == ["applied"]
    answer = second.push()
    assert statuses(answer) == ["conflict"]
    return hh, None, answer["results"][0]["conflict_id"]


def test_a_conflict_on_the_payout_itself_holds_its_disbursement(app, client, auth):
    collaborator = Phone(client, auth.headers("collaborator"))
    hh = collaborator.create("households", f.household())
    assert statuses(collaborator.sync()) == ["applied"]
    one = Phone(client, auth.headers("district_officer"))
    payout = one.create("payouts", f.payout(hh, status="approved"))
    assert statuses(one.sync()) == ["applied"]
    two = Phone(client, auth.headers("district_officer"))
    two.pull()
    one.edit("payouts", payout, amount_vnd=6_000_000)
    two.edit("payouts", payout, amount_vnd=7_000_000)
    assert statuses(one.sync()) == ["applied"]
    answer = two.push()
    assert statuses(answer) == ["conflict"]
    conflict_id = answer["results"][0]["conflict_id"]
    one.edit("payouts", payout, status="disbursed", disbursed_on="2020-10-01")
    (result,) = one.push()["results"]
    assert (result["status"], result["errors"]["details"]["conflict_id"]) == ("rejected", conflict_id)
    # Cancelling is not paying: it goes through.
    one.pull()
    one.edit("payouts", payout, status="cancelled")
    assert statuses(one.sync()) == ["applied"]


def test_the_official_sees_why_on_the_page(app, client, auth):
    hh, reg, conflict_id = household_in_conflict(client, auth)
    name = auth.user("commune_official")
    page = PageSession(app, name)
    html = page.get(f"/web/registrations/{reg}").text
    assert f'data-hold="{conflict_id}"' in html
    assert 'name="decision" value="approve"' not in html  # no buttons while held
    # A decision posted anyway (a page opened before the conflict) is refused with the reason.
    answer = page.post(f"/web/registrations/{reg}/decision", {"decision": "approve", "version": "1"})
    assert answer.status_code == 302
    shown = page.get(f"/web/registrations/{reg}").text
    assert any("conflict is open" in line or "xung đột" in line for line in flashes(shown))
    resolve(client, auth.headers("commune_official"), conflict_id)
    html = page.get(f"/web/registrations/{reg}").text
    assert "data-hold=" not in html and 'name="decision" value="approve"' in html

    desk = Phone(client, auth.headers("district_officer"))
    desk.create("payouts", f.payout(hh))
    assert statuses(desk.sync()) == ["applied"]
    _, _, again = household_in_conflict_on(client, auth, hh)
    officer = PageSession(app, auth.user("district_officer"))
    assert f'data-hold="{again}"' in officer.get(f"/web/households/{hh}").text
