"""possible duplicates: households gain their match keys (head_name_key, phone_key, backfilled
for every existing row) and merged_into; duplicate_cases holds each pair that may be one

Revision ID: 390ec8ca2e25
Revises: d5e8a1f3b7c2
Create Date: 2026-12-02 06:00:28.742198

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import server.models.types  # noqa: F401


# revision identifiers, used by Alembic.
revision = '390ec8ca2e25'
down_revision = 'd5e8a1f3b7c2'
branch_labels = None
depends_on = None

BACKFILL_CHUNK = 1000


def upgrade():
    op.create_table('duplicate_cases',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_a', sa.String(length=36), nullable=False),
    sa.Column('household_b', sa.String(length=36), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('commune_code', sa.String(length=16), nullable=False),
    sa.Column('district_code', sa.String(length=16), nullable=False),
    sa.Column('opened_at', server.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('kept_id', sa.String(length=36), nullable=True),
    sa.Column('settled_by', sa.String(length=80), nullable=True),
    sa.Column('settled_at', server.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_cases'))
    )
    with op.batch_alter_table('duplicate_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_cases_commune_code'), ['commune_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_cases_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_cases_household_a'), ['household_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_cases_household_b'), ['household_b'], unique=False)
        batch_op.create_index('ix_duplicate_cases_status_opened_at', ['status', 'opened_at'], unique=False)

    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('head_name_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_households_commune_and_code', ['commune_code', 'code'], unique=False)
        batch_op.create_index('ix_households_commune_head_name_key', ['commune_code', 'head_name_key'], unique=False)
        batch_op.create_index('ix_households_commune_phone_key', ['commune_code', 'phone_key'], unique=False)

    backfill_keys()


def backfill_keys():
    """Every existing household gets the keys a new write computes (the same functions), so
    a household registered before this migration is found as a duplicate too."""
    from sync.duplicates import name_key, phone_key

    bind = op.get_bind()
    households = sa.table(
        'households', sa.column('id', sa.String), sa.column('head_name', sa.String),
        sa.column('phone', sa.String), sa.column('head_name_key', sa.String), sa.column('phone_key', sa.String),
    )
    update = (
        households.update()
        .where(households.c.id == sa.bindparam('b_id'))
        .values(head_name_key=sa.bindparam('b_name'), phone_key=sa.bindparam('b_phone'))
    )
    last = ''
    while True:
        rows = bind.execute(
            sa.select(households.c.id, households.c.head_name, households.c.phone)
            .where(households.c.id > last)
            .order_by(households.c.id)
            .limit(BACKFILL_CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [{'b_id': i, 'b_name': name_key(name), 'b_phone': phone_key(phone)} for i, name, phone in rows],
        )
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_commune_phone_key')
        batch_op.drop_index('ix_households_commune_head_name_key')
        batch_op.drop_index('ix_households_commune_and_code')
        batch_op.drop_column('phone_key')
        batch_op.drop_column('head_name_key')
        batch_op.drop_column('merged_into')

    with op.batch_alter_table('duplicate_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_cases_status_opened_at')
        batch_op.drop_index(batch_op.f('ix_duplicate_cases_household_b'))
        batch_op.drop_index(batch_op.f('ix_duplicate_cases_household_a'))
        batch_op.drop_index(batch_op.f('ix_duplicate_cases_district_code'))
        batch_op.drop_index(batch_op.f('ix_duplicate_cases_commune_code'))

    op.drop_table('duplicate_cases')
