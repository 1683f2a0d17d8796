"""Reasons stored byte for byte: on MariaDB/MySQL the breakdown's `reason` takes a NO PAD binary
collation, so reasons that differ only in letter case or trailing spaces (which the analytics
tell apart) are two rows, as the key (date, reason, token_type) must allow. SQLite compares
bytes already. Days stored before this revision may hold such reasons merged: `wallet-analytics
verify --repair` finds and mends them.

Revision ID: 0008_exact_reasons
Revises: 0007_export_liveness
"""

from alembic import op

revision = "0008_exact_reasons"
down_revision = "0007_export_liveness"
branch_labels = None
depends_on = None


def _collation() -> str:
    return "utf8mb4_nopad_bin" if op.get_bind().dialect.is_mariadb else "utf8mb4_0900_bin"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"ALTER TABLE analytics_daily_breakdown MODIFY reason VARCHAR(64) "
               f"CHARACTER SET utf8mb4 COLLATE {_collation()} NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER TABLE analytics_daily_breakdown MODIFY reason VARCHAR(64) "
               "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL")
