"""Exports in more formats (JSON Lines, Parquet, XLSX), gzip-compressed, and with a BOM for Excel.

Revision ID: 0012_export_formats
Revises: 0010_export_cancel
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_export_formats"
down_revision = "0011_export_audit"
branch_labels = None
depends_on = None

BEFORE = ("csv", "json")
AFTER = (*BEFORE, "jsonl", "parquet", "xlsx")
COMPRESSIONS = ("none", "gzip")


def _type(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="export_type", create_constraint=True)


def upgrade() -> None:
    with op.batch_alter_table("analytics_exports") as batch:
        batch.alter_column("type", existing_type=_type(BEFORE), type_=_type(AFTER), existing_nullable=False,
                           existing_server_default="csv")
        batch.add_column(sa.Column("compression", sa.Enum(*COMPRESSIONS, name="export_compression",
                                                          create_constraint=True),
                                   nullable=False, server_default="none"))
        batch.add_column(sa.Column("excel", sa.Boolean(create_constraint=True, name="ck_exports_excel_boolean"),
                                   nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # The new formats' exports cannot be described by the old columns: they go.
    op.execute("DELETE FROM analytics_exports WHERE type NOT IN ('csv', 'json') OR compression <> 'none'")
    with op.batch_alter_table("analytics_exports") as batch:
        if op.get_bind().dialect.name == "sqlite":  # its CHECKs would outlive the columns in the copied table
            batch.drop_constraint("export_compression", type_="check")
            batch.drop_constraint("ck_exports_excel_boolean", type_="check")
        batch.drop_column("excel")
        batch.drop_column("compression")
        batch.alter_column("type", existing_type=_type(AFTER), type_=_type(BEFORE), existing_nullable=False,
                           existing_server_default="csv")
