"""Export audit: webhook events of export transitions (an outbox) with each delivery attempt,
and every download through a signed link.

Revision ID: 0011_export_audit
Revises: 0010_export_cancel
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, sqlite

revision = "0011_export_audit"
down_revision = "0010_export_cancel"
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes. SQLite keeps DATETIME as whole-second text.
UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
UTC_DATETIME = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)


def _export_fk() -> sa.Column:
    return sa.Column("export_id", sa.String(26), sa.ForeignKey("analytics_exports.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "analytics_export_events",
        sa.Column("id", sa.String(30), primary_key=True),
        _export_fk(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("enqueued_at", UTC_DATETIME, nullable=True),
        sa.Column("last_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("delivered_at", UTC_DATETIME, nullable=True),
        sa.UniqueConstraint("export_id", "type", name="uq_export_events_export_type"),
    )
    op.create_index("idx_export_events_pending", "analytics_export_events", ["delivered_at", "created_at"])
    op.create_table(
        "analytics_export_webhook_attempts",
        sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(30), sa.ForeignKey("analytics_export_events.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("attempt", UNSIGNED_INT, nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=True),
        sa.Column("error", sa.String(255), nullable=True),
        sa.Column("attempted_at", UTC_DATETIME, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
    )
    op.create_index("idx_webhook_attempts_event", "analytics_export_webhook_attempts", ["event_id", "attempt"])
    op.create_table(
        "analytics_export_downloads",
        sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
        _export_fk(),
        sa.Column("user_id", UNSIGNED_INT, nullable=False),
        sa.Column("downloaded_at", UTC_DATETIME, nullable=False),
        sa.Column("client_address", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.Column("bytes_sent", UNSIGNED_BIGINT, nullable=True),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("range", sa.String(100), nullable=True),
    )
    op.create_index("idx_export_downloads_export", "analytics_export_downloads", ["export_id", "id"])


def downgrade() -> None:
    op.drop_table("analytics_export_downloads")
    op.drop_table("analytics_export_webhook_attempts")
    op.drop_table("analytics_export_events")
