"""Export liveness: when a worker's attempt last showed life, and when the janitor queued a
lost export again (core/exports/state.py).

Revision ID: 0006_export_liveness
Revises: 0005_day_versions
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0006_export_liveness"
down_revision = "0005_day_versions"
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes. SQLite keeps DATETIME as whole-second text.
UTC_DATETIME = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)


def upgrade() -> None:
    op.add_column("analytics_exports", sa.Column("progress_at", UTC_DATETIME, nullable=True))
    op.add_column("analytics_exports", sa.Column("requeued_at", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.drop_column("requeued_at")
        batch.drop_column("progress_at")
