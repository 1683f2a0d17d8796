"""Export requests remembered: a digest of what was asked for (so an equal request of the same
admin gets the export it made) and the caller's Idempotency-Key.

Revision ID: 0009_export_requests
Revises: 0008_exact_reasons
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_export_requests"
down_revision = "0008_exact_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.add_column(sa.Column("request_digest", sa.CHAR(32), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.create_index("idx_exports_user_request", ["user_id", "request_digest"])
        batch.create_index("idx_exports_user_idempotency_key", ["user_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.drop_index("idx_exports_user_idempotency_key")
        batch.drop_index("idx_exports_user_request")
        batch.drop_column("idempotency_key")
        batch.drop_column("request_digest")
