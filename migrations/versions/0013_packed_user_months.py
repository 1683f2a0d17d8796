"""Each month's per-user sums packed into one value (core.user_months), filled from
analytics_user_monthly.

Revision ID: 0013_packed_user_months
Revises: 0010_export_cancel
"""

import struct
import zlib

import numpy as np
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013_packed_user_months"
down_revision = "0012_export_formats"
branch_labels = None
depends_on = None


def _packed(rows: list[tuple[int, int, int]]) -> bytes:
    """The format of core.user_months as of this revision: entries and each column's byte width,
    then the ids' gaps, credited and debited, each as int32 when it fits, compressed."""
    table = np.array(rows, dtype=np.int64).reshape(-1, 3)
    columns = [np.diff(table[:, 0], prepend=0), table[:, 1], table[:, 2]]
    low, high = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    narrowed = [c.astype("<i4") if c.min() >= low and c.max() <= high else c.astype("<i8") for c in columns]
    header = struct.pack("<Q3B", len(table), *(c.itemsize for c in narrowed))
    return zlib.compress(header + b"".join(c.tobytes() for c in narrowed), 1)


def upgrade() -> None:
    packed = op.create_table(
        "analytics_user_months_packed",
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("sums", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
    )
    monthly = sa.table("analytics_user_monthly", sa.column("month", sa.Date), sa.column("user_id"),
                       sa.column("credited"), sa.column("debited"))
    conn = op.get_bind()
    for month in conn.execute(sa.select(monthly.c.month).distinct().order_by(monthly.c.month)).scalars().all():
        rows = conn.execute(sa.select(monthly.c.user_id, monthly.c.credited, monthly.c.debited)
                            .where(monthly.c.month == month).order_by(monthly.c.user_id)).all()
        conn.execute(packed.insert().values(month=month, sums=_packed([tuple(row) for row in rows])))


def downgrade() -> None:
    op.drop_table("analytics_user_months_packed")
