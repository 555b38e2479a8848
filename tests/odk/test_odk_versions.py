"""A submission names the edition of the form that filled it; only published editions are taken.

A phone holding an edition of the form the server never published (a hand-edited form, a
test build) is refused as ODK Central refuses it, 400, and the instance is kept for the
supervisors like every refusal. An older edition that was published is still taken: phones
in the mountains update their forms late.
"""

from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.models import OdkInstance, RecordVersion
from server.odk.forms import get_form
from tests.conftest import PASSWORD
from tests.odk.collect import Collect, message_of
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, INSTANCE_UUID, fill_instance

FORM = "/v1/projects/1/forms/exit_registration"
NEVER_PUBLISHED = "2019010199"


def xml_of_version(version: str) -> bytes:
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS)
    current = get_form("exit_registration").version
    return xml.replace(f'version="{current}"'.encode(), f'version="{version}"'.encode(), 1)


def kept(app) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        rows = db.session.execute(select(OdkInstance)).scalars().all()
        return [(r.outcome, r.form_version, (r.results.get("refusal") or {}).get("code")) for r in rows]


def records(app) -> int:
    with app.app_context():
        return len(db.session.execute(select(RecordVersion)).all())


def test_collect_sending_a_version_never_published_is_400_and_kept(app, client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    resp = collect.submit(xml_of_version(NEVER_PUBLISHED))
    assert resp.status_code == 400
    text, nature = message_of(resp)
    assert NEVER_PUBLISHED in text and nature == "error"
    assert kept(app) == [("rejected", NEVER_PUBLISHED, "unknown_form_version")]
    assert records(app) == 0
    supervisor = client.post("/v1/sessions", json={"email": auth.user("supervisor"), "password": PASSWORD})
    headers = {"Authorization": f"Bearer {supervisor.get_json()['token']}"}
    listed = client.get(f"{FORM}/submissions", headers=headers).get_json()
    assert [(s["instanceId"], s["syncStatus"]) for s in listed] == [(f"uuid:{INSTANCE_UUID}", "rejected")]
    # Sent again unchanged, it is refused again (nothing about it has become published).
    assert collect.submit(xml_of_version(NEVER_PUBLISHED)).status_code == 400


def test_central_post_of_a_version_never_published_is_central_400(app, client, auth):
    login = client.post(
        "/v1/sessions", json={"email": auth.user("collaborator", "20900"), "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['token']}", "Content-Type": "application/xml"}
    resp = client.post(f"{FORM}/submissions", data=xml_of_version(NEVER_PUBLISHED), headers=headers)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.8 and body["details"]["error"] == "unknown_form_version"
    assert kept(app) == [("rejected", NEVER_PUBLISHED, "unknown_form_version")]


def test_an_instance_without_a_version_is_refused(app, client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    current = get_form("exit_registration").version
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS).replace(
        f' version="{current}"'.encode(), b"", 1
    )
    assert collect.submit(xml).status_code == 400
    assert records(app) == 0


def test_an_older_published_edition_is_still_taken(app, client, auth):
    form = get_form("exit_registration")
    older = sorted(form.published_versions - {form.version})
    assert older, "exit_registration has an earlier published edition"
    collect = Collect(client, auth.user("collaborator", "20900"))
    assert collect.submit(xml_of_version(older[0])).status_code == 201
    assert kept(app) == [("accepted", older[0], None)]
