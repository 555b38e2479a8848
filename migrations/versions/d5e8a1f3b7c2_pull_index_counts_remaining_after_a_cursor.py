"""pull-index counts per unit and bucket of sequences, kept by triggers: a pull's `remaining`
costs one bucket's range of the index plus a sum of bucket counts, not a count of every
record after the cursor (a million-record first sync counted half a million rows a page)

Revision ID: d5e8a1f3b7c2
Revises: c41d7e2a9f10
Create Date: 2026-12-02 06:15:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d5e8a1f3b7c2"
down_revision = "c41d7e2a9f10"
branch_labels = None
depends_on = None

# server.models.sync.COUNT_BUCKET when this migration was written; the triggers and the
# backfill below use it, and tests/test_pull_remaining.py holds the model to the same value.
BUCKET = 10000

# Each row counts three times: for every row (''), for its commune and for its district.
BACKFILL = f"""
INSERT INTO sync_index_counts (unit_code, bucket, n)
SELECT unit_code, bucket, count(*) FROM (
    SELECT '' AS unit_code, seq / {BUCKET} AS bucket FROM sync_index
    UNION ALL SELECT commune_code, seq / {BUCKET} FROM sync_index
    UNION ALL SELECT district_code, seq / {BUCKET} FROM sync_index
) AS units GROUP BY unit_code, bucket
"""

# PostgreSQL: statement-level triggers over transition tables - one grouped upsert per
# statement (a 500-record push adds one statement inside the database, not 3,000 rows' worth).
# The functions are replaced, not only created: they outlive their table when it is dropped
# by hand (as the tests' fresh start does), and the next upgrade must not stop there.
PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION sync_index_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_index_counts AS c (unit_code, bucket, n)
    SELECT u.code, r.seq / {BUCKET}, count(*)
    FROM new_rows r CROSS JOIN LATERAL (VALUES (''), (r.commune_code), (r.district_code)) AS u(code)
    GROUP BY 1, 2
    ON CONFLICT (unit_code, bucket) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION sync_index_counted_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_index_counts AS c (unit_code, bucket, n)
    SELECT code, bucket, sum(delta) FROM (
        SELECT u.code, r.seq / {BUCKET} AS bucket, -1 AS delta
        FROM old_rows r CROSS JOIN LATERAL (VALUES (''), (r.commune_code), (r.district_code)) AS u(code)
        UNION ALL
        SELECT u.code, r.seq / {BUCKET}, 1
        FROM new_rows r CROSS JOIN LATERAL (VALUES (''), (r.commune_code), (r.district_code)) AS u(code)
    ) AS moves
    GROUP BY code, bucket
    HAVING sum(delta) <> 0
    ON CONFLICT (unit_code, bucket) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER sync_index_counted_insert AFTER INSERT ON sync_index
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_index_counted_insert();
CREATE TRIGGER sync_index_counted_update AFTER UPDATE ON sync_index
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync_index_counted_update();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS sync_index_counted_update ON sync_index;
DROP TRIGGER IF EXISTS sync_index_counted_insert ON sync_index;
DROP FUNCTION IF EXISTS sync_index_counted_update();
DROP FUNCTION IF EXISTS sync_index_counted_insert();
"""


# SQLite: row triggers (it has no transition tables; one writer at a time, in process).
def sqlite_add(row: str, sign: int) -> str:
    return (
        f"INSERT INTO sync_index_counts (unit_code, bucket, n) VALUES "
        f"('', {row}.seq / {BUCKET}, {sign}), ({row}.commune_code, {row}.seq / {BUCKET}, {sign}), "
        f"({row}.district_code, {row}.seq / {BUCKET}, {sign}) "
        f"ON CONFLICT (unit_code, bucket) DO UPDATE SET n = n + excluded.n;"
    )


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER sync_index_counted_insert AFTER INSERT ON sync_index BEGIN {sqlite_add('NEW', 1)} END",
    (
        "CREATE TRIGGER sync_index_counted_update AFTER UPDATE OF seq, commune_code, district_code "
        f"ON sync_index BEGIN {sqlite_add('OLD', -1)} {sqlite_add('NEW', 1)} END"
    ),
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS sync_index_counted_update",
    "DROP TRIGGER IF EXISTS sync_index_counted_insert",
]


def upgrade():
    op.create_table(
        "sync_index_counts",
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "bucket", name=op.f("pk_sync_index_counts")),
    )
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    else:
        for statement in SQLITE_DROP:
            op.execute(statement)
    op.drop_table("sync_index_counts")
