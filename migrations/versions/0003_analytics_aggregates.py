"""Analytics pre-aggregates: per-day user bitmaps, reason/token-type breakdown, per-user daily and
monthly sums, purchases and referrals per day, ETL run log; a covering index for the day rollup.

Revision ID: 0003_analytics_aggregates
Revises: 0002_analytics_schema
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003_analytics_aggregates"
down_revision = "0002_analytics_schema"
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes.
UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
BITMAP = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def enum(*values: str, name: str) -> sa.Enum:
    """A native ENUM on MySQL, a CHECK constraint on SQLite."""
    return sa.Enum(*values, name=name, native_enum=True, create_constraint=True)

ROLLUP_INDEX = "idx_ledger_day_rollup"


def _user_sums(name: str, key: str) -> None:
    op.create_table(
        name,
        sa.Column(key, sa.Date, primary_key=True),
        sa.Column("user_id", UNSIGNED_INT, primary_key=True),
        sa.Column("credited", UNSIGNED_BIGINT, nullable=False),
        sa.Column("debited", UNSIGNED_BIGINT, nullable=False),
    )


def upgrade() -> None:
    op.create_index(
        ROLLUP_INDEX, "wallet_ledger", ["occurred_at", "user_id", "reason", "token_type", "direction", "amount"]
    )
    op.create_table(
        "analytics_daily_users",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("users", BITMAP, nullable=False),
    )
    op.create_table(
        "analytics_daily_breakdown",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("reason", sa.String(64), primary_key=True),
        sa.Column("token_type", enum("regular", "promo", name="token_type"), primary_key=True),
        sa.Column("credited", UNSIGNED_BIGINT, nullable=False),
        sa.Column("debited", UNSIGNED_BIGINT, nullable=False),
        sa.Column("users", BITMAP, nullable=False),
    )
    _user_sums("analytics_user_daily", "date")
    _user_sums("analytics_user_monthly", "month")
    op.create_table(
        "analytics_daily_purchases",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("purchases", UNSIGNED_INT, nullable=False),
        sa.Column("tokens", UNSIGNED_BIGINT, nullable=False),
        sa.Column("revenue_in_inr", sa.Numeric(15, 2), nullable=False),
        sa.Column("buyers", BITMAP, nullable=False),
    )
    op.create_table(
        "analytics_daily_referrals",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("referrals", UNSIGNED_INT, nullable=False),
        sa.Column("successful", UNSIGNED_INT, nullable=False),
        sa.Column("bonus_awarded", UNSIGNED_BIGINT, nullable=False),
        sa.Column("referrers", BITMAP, nullable=False),
    )
    op.create_table(
        "analytics_etl_runs",
        sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("status", enum("running", "succeeded", "failed", name="etl_run_status"), nullable=False),
        sa.Column("first_date", sa.Date, nullable=True),
        sa.Column("last_date", sa.Date, nullable=True),
        sa.Column("dates_processed", UNSIGNED_INT, nullable=False, server_default="0"),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Index("idx_etl_runs_started_at", "started_at"),
    )


def downgrade() -> None:
    for table in (
        "analytics_etl_runs",
        "analytics_daily_referrals",
        "analytics_daily_purchases",
        "analytics_user_monthly",
        "analytics_user_daily",
        "analytics_daily_breakdown",
        "analytics_daily_users",
    ):
        op.drop_table(table)
    op.drop_index(ROLLUP_INDEX, table_name="wallet_ledger")
