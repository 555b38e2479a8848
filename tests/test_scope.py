"""Each role sees its own unit and the units below it, nothing else."""

from server.scope import Scope


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
    commune, district, province = Scope("commune", "20920"), Scope("district", "515"), Scope("province", "49")
    assert commune.covers("20920", "515") and not commune.covers("20923", "515")
    assert district.covers("20923", "515") and not district.covers("20935", "516")
    assert province.covers("1", "2")
    assert not commune.covers_unit("515", "district", "49")
    assert district.covers_unit("515", "district", "49") and not district.covers_unit("516", "district", "49")
