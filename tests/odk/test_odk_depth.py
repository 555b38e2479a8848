"""One hostile submission or query cannot break a form's OData, and no input is a 500.

An instance nesting 3,000 elements is refused at intake (a clear 400, nothing kept); one
stored before that bound still renders, groups below the bound shown as null; a ``$filter``
nesting 400 parentheses or ``not``s is Central's 400, never a 500 with a traceback.
"""

from __future__ import annotations

import json

import defusedxml.ElementTree as SafeET
import pytest
from sqlalchemy import func, select, update

from server.extensions import db
from server.models import OdkInstance, OdkSubmission
from server.odk.forms import get_form
from server.odk.instances import MAX_INSTANCE_DEPTH
from server.odk.odata import MAX_ROW_DEPTH, build_row
from tests.conftest import PASSWORD
from tests.odk.collect import Collect, message_of
from tests.odk.samples import EXIT_REGISTRATION_ANSWERS, fill_instance

FORM = "/v1/projects/1/forms/exit_registration"


def nested(depth: int) -> bytes:
    return b"<g>" * depth + b"deep" + b"</g>" * depth


def deep_instance(depth: int = 3000) -> bytes:
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS)
    return xml.replace(b"</data>", nested(depth) + b"</data>", 1)


def session(client, username: str) -> dict:
    resp = client.post("/v1/sessions", json={"email": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def stored(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(OdkSubmission)).scalar_one()


def test_collect_sending_3000_nested_elements_is_400_and_nothing_is_kept(app, client, auth):
    resp = Collect(client, auth.user("collaborator", "20900")).submit(deep_instance())
    assert resp.status_code == 400
    text, nature = message_of(resp)
    assert "levels deep" in text and nature == "error"
    assert stored(app) == 0


def test_central_post_of_3000_nested_elements_is_centrals_400(app, client, auth):
    headers = {**session(client, auth.user("collaborator", "20900")), "Content-Type": "application/xml"}
    resp = client.post(f"{FORM}/submissions", data=deep_instance(), headers=headers)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["code"] == 400.1 and "levels deep" in body["message"]
    assert stored(app) == 0


def test_an_instance_as_deep_as_the_bound_is_taken_and_one_level_more_is_not(client, auth):
    collect = Collect(client, auth.user("collaborator", "20900"))
    assert collect.submit(deep_instance(MAX_INSTANCE_DEPTH)).status_code == 400  # the root is one more
    resp = collect.submit(deep_instance(MAX_INSTANCE_DEPTH - 1))
    assert resp.status_code == 201, resp.data


def test_a_deep_instance_stored_before_the_bound_still_renders_for_commune_and_province(app, client, auth):
    collaborator = auth.user("collaborator", "20900")
    assert (
        Collect(client, collaborator)
        .submit(fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS))
        .status_code
        == 201
    )
    with app.app_context():  # as it was kept before intake bounded the depth
        db.session.execute(update(OdkInstance).values(xml=deep_instance(3000)))
        db.session.commit()
    for username in (collaborator, auth.user("commune_official", "20900"), auth.user("supervisor")):
        resp = client.get(f"{FORM}.svc/Submissions", headers=session(client, username))
        assert resp.status_code == 200, resp.text[:300]
        [row] = resp.get_json()["value"]
        assert row["household"]["head_name"] == "Hồ Văn Đước"
        group, depth = row["g"], 2
        while isinstance(group, dict):
            group, depth = group["g"], depth + 1
        assert group is None and depth == MAX_ROW_DEPTH


def test_building_a_row_of_a_very_deep_tree_needs_no_recursion():
    root = SafeET.fromstring(b"<data>" + nested(20_000) + b"</data>")
    row = build_row(root, get_form("exit_registration").fields)
    json.dumps(row)  # the encoder recurses too: the row must be shallow enough for it


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 400 + "__system/reviewState eq null" + ")" * 400,
        "not " * 400 + "__system/reviewState eq null",
        "(" * 5000,
    ],
    ids=["400-parentheses", "400-nots", "5000-open-parentheses"],
)
def test_a_pathological_filter_is_centrals_400(client, auth, expression):
    headers = session(client, auth.user("collaborator", "20900"))
    resp = client.get(f"{FORM}.svc/Submissions", query_string={"$filter": expression}, headers=headers)
    assert resp.status_code == 400
    body = resp.get_json()
    assert set(body) == {"code", "message", "details"} and body["code"] == 400.1
    assert "Traceback" not in resp.text and len(resp.text) < 2000


def test_a_filter_nested_a_few_levels_still_works(client, auth):
    headers = session(client, auth.user("collaborator", "20900"))
    expression = "(" * 10 + "not (__system/reviewState ne null)" + ")" * 10
    resp = client.get(f"{FORM}.svc/Submissions", query_string={"$filter": expression}, headers=headers)
    assert resp.status_code == 200
