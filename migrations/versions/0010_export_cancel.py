"""Exports can be canceled: the status `canceled`.

Revision ID: 0010_export_cancel
Revises: 0009_export_requests
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_export_cancel"
down_revision = "0009_export_requests"
branch_labels = None
depends_on = None

BEFORE = ("preparing", "ready", "failed", "expired")
AFTER = (*BEFORE, "canceled")


def _status(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="export_status", create_constraint=True)


def upgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.alter_column("status", existing_type=_status(BEFORE), type_=_status(AFTER), existing_nullable=False,
                           existing_server_default="preparing")


def downgrade() -> None:
    op.execute("UPDATE analytics_exports SET status = 'expired' WHERE status = 'canceled'")
    with op.batch_alter_table("analytics_exports") as batch:
        batch.alter_column("status", existing_type=_status(AFTER), type_=_status(BEFORE), existing_nullable=False,
                           existing_server_default="preparing")
