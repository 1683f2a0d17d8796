"""A version per materialized day (a digest of what the ETL stored for it), so that readers may
keep a day's bitmaps between requests.

Revision ID: 0005_day_versions
Revises: 0004_export_progress
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_day_versions"
down_revision = "0004_export_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_daily_users") as batch:
        batch.add_column(sa.Column("version", sa.CHAR(26), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("analytics_daily_users") as batch:
        batch.drop_column("version")
