"""Export progress and output details: rows_written, file_size, columns; listing index.

Revision ID: 0004_export_progress
Revises: 0003_analytics_aggregates
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004_export_progress"
down_revision = "0003_analytics_aggregates"
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes.
UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("analytics_exports", sa.Column("rows_written", UNSIGNED_INT, nullable=False, server_default="0"))
    op.add_column("analytics_exports", sa.Column("file_size", UNSIGNED_BIGINT, nullable=True))
    op.add_column("analytics_exports", sa.Column("columns", sa.JSON, nullable=True))
    # The list of an admin's exports, newest first: WHERE user_id = ? ORDER BY id DESC.
    op.create_index("idx_exports_user_id", "analytics_exports", ["user_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.drop_index("idx_exports_user_id")
        batch.drop_column("columns")
        batch.drop_column("file_size")
        batch.drop_column("rows_written")
