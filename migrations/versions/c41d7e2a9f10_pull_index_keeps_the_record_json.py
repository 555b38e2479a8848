"""the pull index keeps each record's current JSON: a pull page is one range of sync_index,
its rows spliced into the answer as stored, with no join to record_versions

Backfills every existing row from its version, in the shape the pull answers
(``{"entity", "id", "version", "deleted", "data"}``), then makes the column NOT NULL.

Revision ID: c41d7e2a9f10
Revises: 8348cf3cd96f
Create Date: 2026-12-02 06:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c41d7e2a9f10'
down_revision = '8348cf3cd96f'
branch_labels = None
depends_on = None

# The version a pull-index row points at, as the pull's JSON object (SQLite keeps booleans as
# 0/1 and JSON as text; json() makes both JSON values there).
BACKFILL = {
    "postgresql": (
        "UPDATE sync_index SET record_json = CAST(json_build_object("
        "'entity', rv.entity, 'id', rv.record_id, 'version', rv.version, "
        "'deleted', rv.deleted, 'data', rv.data) AS TEXT) "
        "FROM record_versions rv WHERE rv.entity = sync_index.entity "
        "AND rv.record_id = sync_index.record_id AND rv.version = sync_index.version"
    ),
    "sqlite": (
        "UPDATE sync_index SET record_json = (SELECT json_object("
        "'entity', rv.entity, 'id', rv.record_id, 'version', rv.version, "
        "'deleted', json(CASE WHEN rv.deleted THEN 'true' ELSE 'false' END), 'data', json(rv.data)) "
        "FROM record_versions rv WHERE rv.entity = sync_index.entity "
        "AND rv.record_id = sync_index.record_id AND rv.version = sync_index.version)"
    ),
}


def upgrade():
    with op.batch_alter_table('sync_index', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_json', sa.Text(), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])
    with op.batch_alter_table('sync_index', schema=None) as batch_op:
        batch_op.alter_column('record_json', existing_type=sa.Text(), nullable=False)


def downgrade():
    with op.batch_alter_table('sync_index', schema=None) as batch_op:
        batch_op.drop_column('record_json')
