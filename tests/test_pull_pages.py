"""A phone's first sync over EDGE: as few pages as its data needs, and a progress count.

A collaborator's commune of 1,000 households holds ~3,500 records; a page may hold 5,000, so
the whole first sync is one round trip, and each page says how many records remain.
"""

from __future__ import annotations

from server.extensions import db
from tests.factories import household, put_many, registration


def seed(app, households: int, commune: str = "20920") -> int:
    with app.app_context():
        ids = put_many(
            "households", [household(commune_code=commune, code=f"H{n}") for n in range(households)]
        )
        put_many("registrations", [registration(hid) for hid in ids], communes=[commune] * len(ids))
        db.session.commit()
    return 2 * households


def pull(client, headers, limit: int | None = None, cursor: str | None = None):
    query = "&".join(
        part for part in (f"limit={limit}" if limit else "", f"cursor={cursor}" if cursor else "") if part
    )
    return client.get(f"/api/v1/sync/pull?{query}", headers=headers)


def test_a_first_sync_of_3500_records_is_one_page_of_5000(app, client, auth):
    total = seed(app, 1750)
    seed(app, 300, commune="20900")  # another commune: neither listed nor counted
    headers = auth.headers("collaborator")
    resp = pull(client, headers, limit=5000)
    assert resp.status_code == 200
    page = resp.get_json()
    assert len(page["changes"]) == total == 3500
    assert page["more"] is False and page["remaining"] == 0


def test_each_page_says_how_many_records_remain(app, client, auth):
    seed(app, 1250)
    seed(app, 100, commune="20900")
    headers = auth.headers("collaborator")
    counts, cursor = [], None
    while True:
        page = pull(client, headers, limit=1000, cursor=cursor).get_json()
        counts.append((len(page["changes"]), page["remaining"], page["more"]))
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert counts == [(1000, 1500, True), (1000, 500, True), (500, 0, False)]
    # Up to date: an empty page, nothing remaining.
    assert pull(client, headers, cursor=cursor).get_json() | {"cursor": None} == {
        "changes": [],
        "cursor": None,
        "more": False,
        "remaining": 0,
    }


def test_the_page_limit_is_bounded(client, auth):
    headers = auth.headers("collaborator")
    assert pull(client, headers, limit=5000).status_code == 200
    resp = pull(client, headers, limit=5001)
    assert resp.status_code == 422 and "limit" in resp.get_json()["error"]["details"]
