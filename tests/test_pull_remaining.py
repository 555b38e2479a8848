"""A pull's `remaining`: exact, and of bounded cost however many records follow the cursor.

What is left after a cursor is the pull index's rows after it inside its bucket of sequences
plus the counts kept per bucket above (``sync_index_counts``, kept by triggers on
``sync_index``). These tests hold that sum to a plain count of the index, for every cursor
position of a province, a district and a commune, across a bucket's edge, through edits
that move records to new sequences, deletes and a move to another commune - and hold the
migration's backfill to the same counts.
"""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, update

from server.extensions import db
from server.models import SyncCounter, SyncIndex, SyncIndexCount
from server.models.sync import COUNT_BUCKET
from server.store.sync import SqlStore
from sync.actors import Scope
from tests.factories import household, put, put_many

# The revision before the counts were kept (the migration under test follows it).
BEFORE_COUNTS = "c41d7e2a9f10"
# Bắc Trà My (515) holds Trà Đốc (20920) and Trà Sơn (20900); Tam Kỳ (502) holds Tân Thạnh.
COMMUNES = {"20920": "515", "20900": "515", "20335": "502"}


def scopes() -> list[Scope]:
    districts = frozenset(COMMUNES.values())
    return [
        Scope("province", "49", districts),
        *(Scope("district", code) for code in sorted(districts)),
        *(Scope("commune", code) for code in sorted(COMMUNES)),
    ]


def plain_count(scope: Scope, after: int) -> int:
    q = select(func.count()).select_from(SyncIndex).where(SyncIndex.seq > after)
    if scope.level == "commune":
        q = q.where(SyncIndex.commune_code == scope.code)
    elif scope.level == "district":
        q = q.where(SyncIndex.district_code == scope.code)
    return db.session.execute(q).scalar_one()


def recount() -> dict[tuple[str, int], int]:
    """The bucket counts as they should be, from the pull index itself (empty buckets left out)."""
    expected: dict[tuple[str, int], int] = {}
    for seq, commune, district in db.session.execute(
        select(SyncIndex.seq, SyncIndex.commune_code, SyncIndex.district_code)
    ):
        for unit in ("", commune, district):
            key = (unit, seq // COUNT_BUCKET)
            expected[key] = expected.get(key, 0) + 1
    return expected


def kept_counts() -> dict[tuple[str, int], int]:
    rows = db.session.execute(select(SyncIndexCount.unit_code, SyncIndexCount.bucket, SyncIndexCount.n))
    return {(unit, bucket): n for unit, bucket, n in rows if n}


def assert_exact_everywhere() -> None:
    top = db.session.execute(select(func.max(SyncIndex.seq))).scalar_one()
    store = SqlStore()
    for scope in scopes():
        for after in (0, *range(COUNT_BUCKET - 12, top + 2)):
            assert store.count_feed(scope, after) == plain_count(scope, after), (scope, after)
    assert kept_counts() == recount()


def seed_across_a_bucket_edge() -> list[str]:
    """Records on both sides of the first bucket's edge, edited, deleted and moved."""
    first = put("households", household(commune_code="20920", code="H-first"))
    # The next sequences just below the edge, so the records below straddle it.
    db.session.execute(
        update(SyncCounter).where(SyncCounter.name == "changes").values(value=COUNT_BUCKET - 8)
    )
    db.session.commit()
    ids = [first]
    for commune in COMMUNES:
        ids += put_many(
            "households", [household(commune_code=commune, code=f"H-{commune}-{n}") for n in range(4)]
        )
    # Edits move records to new sequences (out of the bucket below the edge, into the next).
    put(
        "households", household(commune_code="20920", code="H-first", notes="sửa"), record_id=first, version=2
    )
    put(
        "households",
        household(commune_code="20900", code="H-gone"),
        record_id=ids[5],
        version=2,
        deleted=True,
    )
    # A household moved to another district's commune counts there, and no longer in its old one.
    put("households", household(commune_code="20335", code="H-moved"), record_id=ids[6], version=2)
    return ids


def test_remaining_is_exact_for_every_cursor_and_scope(app):
    with app.app_context():
        seed_across_a_bucket_edge()
        top = db.session.execute(select(func.max(SyncIndex.seq))).scalar_one()
        assert top > COUNT_BUCKET  # the records do straddle the edge
        assert_exact_everywhere()


def test_the_pull_answers_that_count(app, client, auth):
    with app.app_context():
        seed_across_a_bucket_edge()
    headers = auth.headers("district_officer")  # Bắc Trà My: two of the three communes
    counts, cursor = [], None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/sync/pull?{query}", headers=headers).get_json()
        counts.append((len(page["changes"]), page["remaining"]))
        cursor = page["cursor"]
        if not page["more"]:
            break
    # 8 households of Trà Đốc and Trà Sơn (the tombstone stays, the moved one left).
    assert counts == [(3, 5), (3, 2), (2, 0)]


def test_the_migration_backfills_the_counts(app):
    with app.app_context():
        seed_across_a_bucket_edge()
        db.session.remove()
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision=BEFORE_COUNTS)
        assert "sync_index_counts" not in db.inspect(db.engine).get_table_names()
        upgrade(directory=directory)
        db.session.remove()
        assert kept_counts() == recount()
        # And the triggers are back: a new write is counted.
        put("households", household(commune_code="20920", code="H-after"))
        assert_exact_everywhere()


def test_remaining_reads_the_kept_counts_above_its_bucket(app):
    """The cost bound itself: past its own bucket the count is read, not counted - a kept
    count changed by hand changes the answer (a plain count of the index would not see it)."""
    with app.app_context():
        seed_across_a_bucket_edge()
        province = scopes()[0]
        before = SqlStore().count_feed(province, 5)
        db.session.execute(
            update(SyncIndexCount)
            .where(SyncIndexCount.unit_code == "", SyncIndexCount.bucket == 1)
            .values(n=SyncIndexCount.n + 1000)
        )
        assert SqlStore().count_feed(province, 5) == before + 1000
        db.session.rollback()
