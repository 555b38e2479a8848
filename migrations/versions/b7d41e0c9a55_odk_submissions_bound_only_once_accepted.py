"""odk submissions are bound to a record only once an instance of them is accepted

A submission used to carry the record id its XML named from the moment it arrived, so a
refused form naming another commune's registration was found as that registration's form
(its photo on the registration's page). Unbind every submission no accepted instance wrote.

Revision ID: b7d41e0c9a55
Revises: a32759c67fec
Create Date: 2026-12-01 23:59:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7d41e0c9a55'
down_revision = 'a32759c67fec'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "UPDATE odk_submissions SET record_id = NULL, household_id = NULL "
        "WHERE NOT EXISTS (SELECT 1 FROM odk_instances "
        "WHERE odk_instances.submission_id = odk_submissions.id AND odk_instances.outcome = 'accepted')"
    )


def downgrade():
    # The ids a refused form named are still in its XML; nothing is lost by staying unbound.
    pass
