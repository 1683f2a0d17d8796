"""A counter of the fold-ins that deleted captured changes (core.changes), so that readers can
tell in one statement that no change was committed since they last looked (core.analytics.answers).

Revision ID: 0014_changes_generation
Revises: 0013_packed_user_months
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_changes_generation"
down_revision = "0013_packed_user_months"
branch_labels = None
depends_on = None


def upgrade() -> None:
    generation = op.create_table(
        "analytics_changes_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(generation, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("analytics_changes_generation")
