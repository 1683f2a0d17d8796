"""Analytics schema (phase 5): analytics_token_daily, analytics_exports, v_token_analytics_realtime.

Revision ID: 0002_analytics_schema
Revises: 0001_base_wallet_schema
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_analytics_schema"
down_revision = "0001_base_wallet_schema"
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes.
UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
EMPTY_JSON_OBJECT = sa.text("('{}')")  # a parenthesised default: an expression on MySQL 8, MariaDB and SQLite
REALTIME_VIEW = "v_token_analytics_realtime"
# The spec's view, for ad-hoc SQL by other tools (its dates are UTC dates).
REALTIME_VIEW_SELECT = """
SELECT
    DATE(occurred_at) AS date,
    SUM(CASE WHEN direction = 'credit' THEN amount ELSE 0 END) AS credited,
    SUM(CASE WHEN direction = 'debit' THEN amount ELSE 0 END) AS debited,
    SUM(CASE WHEN direction = 'credit' THEN CAST(amount AS SIGNED) ELSE -CAST(amount AS SIGNED) END) AS net,
    COUNT(DISTINCT user_id) AS active_users
FROM wallet_ledger
GROUP BY DATE(occurred_at)
"""


def enum(*values: str, name: str) -> sa.Enum:
    """A native ENUM on MySQL, a CHECK constraint on SQLite."""
    return sa.Enum(*values, name=name, native_enum=True, create_constraint=True)


def create_realtime_view_sql(dialect_name: str) -> str:
    if dialect_name == "sqlite":
        # SQLite has no SIGNED type and no CREATE OR REPLACE VIEW.
        select = REALTIME_VIEW_SELECT.replace("CAST(amount AS SIGNED)", "amount")
        return f"CREATE VIEW IF NOT EXISTS {REALTIME_VIEW} AS {select}"
    return f"CREATE OR REPLACE VIEW {REALTIME_VIEW} AS {REALTIME_VIEW_SELECT}"


def upgrade() -> None:
    op.create_table(
        "analytics_token_daily",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("credited", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("debited", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("net", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("revenue_in_inr", sa.Numeric(15, 2), nullable=False, server_default="0"),
        sa.Column("active_users", UNSIGNED_INT, nullable=False, server_default="0"),
        sa.Column("by_feature", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
        sa.Column("regular_vs_promo", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
    )
    op.create_table(
        "analytics_exports",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("user_id", UNSIGNED_INT, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", enum("csv", "json", name="export_type"), nullable=False, server_default="csv"),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
        sa.Column(
            "status",
            enum("preparing", "ready", "failed", "expired", name="export_status"),
            nullable=False,
            server_default="preparing",
        ),
        sa.Column("estimated_rows", UNSIGNED_INT, nullable=True),
        sa.Column("actual_rows", UNSIGNED_INT, nullable=True),
        sa.Column("file_path", sa.String(255), nullable=True),
        sa.Column("download_url", sa.String(512), nullable=True),
        sa.Column("expires_at", sa.DateTime, nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("completed_at", sa.DateTime, nullable=True),
        sa.Index("idx_user_status", "user_id", "status"),
        sa.Index("idx_expires", "expires_at"),
    )
    op.execute(create_realtime_view_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute(f"DROP VIEW IF EXISTS {REALTIME_VIEW}")
    op.drop_table("analytics_exports")
    op.drop_table("analytics_token_daily")
