"""Each role sees its own unit and the units below it, nothing else."""

import uuid

from server.extensions import db
from server.store.units import upsert_units
from sync.actors import Scope
from tests.conftest import PASSWORD
from tests.web.pages import PageSession


def codes(client, headers, level=None):
    url = "/api/v1/units" + (f"?level={level}" if level else "")
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200
    return {u["code"] for u in resp.get_json()}


def test_a_commune_user_sees_only_the_commune(client, auth):
    assert codes(client, auth.headers("collaborator")) == {"20920"}


def test_a_district_officer_sees_the_district_and_its_communes(client, auth):
    seen = codes(client, auth.headers("district_officer", "515"))
    assert "515" in seen and "20920" in seen
    assert "516" not in seen and "49" not in seen
    assert len(seen) == 1 + 13  # Bắc Trà My and its 13 communes in 2020


def test_a_supervisor_sees_the_whole_province(client, auth):
    assert len(codes(client, auth.headers("supervisor"), level="commune")) == 241


def test_scope_covers():
    commune, district = Scope("commune", "20920"), Scope("district", "515")
    province = Scope("province", "49", frozenset({"515", "516"}))
    assert commune.covers("20920", "515") and not commune.covers("20923", "515")
    assert district.covers("20923", "515") and not district.covers("20935", "516")
    assert province.covers("20935", "516") and not province.covers("1", "2")
    assert not commune.covers_unit("515", "district", "49")
    assert district.covers_unit("515", "district", "49") and not district.covers_unit("516", "district", "49")
    assert province.covers_unit("516", "district", "49") and province.covers_unit("49", "province", None)
    assert not district.covers_unit("49", "province", None)


def remove_unit_under_its_user(app, code: str) -> None:
    """The unit a user belongs to disappears (a merger of communes, a hand edit)."""
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        raw = db.engine.raw_connection()  # past the foreign key, as a hand edit would be
        try:
            cursor = raw.cursor()
            cursor.execute(
                "SET session_replication_role = replica" if postgres else "PRAGMA foreign_keys = OFF"
            )
            cursor.execute(f"DELETE FROM units WHERE code = '{code}'")
            cursor.execute(
                "SET session_replication_role = DEFAULT" if postgres else "PRAGMA foreign_keys = ON"
            )
            raw.commit()
        finally:
            raw.close()


def test_a_user_whose_unit_is_unknown_is_refused_the_same_way_everywhere(app, client, auth):
    with app.app_context():
        upsert_units([{"code": "29999", "name": "Xã Sáp Nhập", "level": "commune", "parent_code": "515"}])
        db.session.commit()
    name = auth.user("collaborator", unit="29999")
    headers = auth.headers(username=name)
    page = PageSession(app, name)
    remove_unit_under_its_user(app, "29999")
    batch = {"device_id": "p1", "batch_id": str(uuid.uuid4()), "changes": []}
    answers = {
        "list": client.get("/api/v1/households", headers=headers),
        "pull": client.get("/api/v1/sync/pull", headers=headers),
        "push": client.post("/api/v1/sync/push", json=batch, headers=headers),
        "units": client.get("/api/v1/units", headers=headers),
        "odk submissions": client.get(
            "/v1/projects/1/forms/exit_registration/submissions", auth=(name, PASSWORD)
        ),
        "page": page.get("/web/"),
    }
    assert {what: resp.status_code for what, resp in answers.items()} == dict.fromkeys(answers, 403)
    for what in ("list", "pull", "push", "units"):
        error = answers[what].get_json()["error"]
        assert error["code"] == "forbidden" and "29999" in error["message"], what
    assert answers["odk submissions"].get_json()["details"]["error"] == "forbidden"
    assert 'data-error-code="forbidden"' in answers["page"].text
