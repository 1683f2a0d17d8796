"""Base wallet schema (phases 1-4): users, wallets, ledger, purchases, campaigns, referrals, authorizations.

Revision ID: 0001_base_wallet_schema
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001_base_wallet_schema"
down_revision = None
branch_labels = None
depends_on = None

# What this revision needs of the column types, as they were when it was written: a migration
# means the same in a year, whatever `core` becomes.
UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")


def enum(*values: str, name: str) -> sa.Enum:
    """A native ENUM on MySQL, a CHECK constraint on SQLite."""
    return sa.Enum(*values, name=name, native_enum=True, create_constraint=True)


def _user_fk(name: str = "user_id") -> sa.Column:
    return sa.Column(name, UNSIGNED_INT, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(255), nullable=False, unique=True),
        sa.Column(
            "role", enum("user", "admin", "service", name="user_role"), nullable=False, server_default="user"
        ),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Index("idx_users_created_at", "created_at"),
    )
    op.create_table(
        "wallets",
        sa.Column("user_id", UNSIGNED_INT, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("balance_regular", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("balance_promo", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
    )
    op.create_table(
        "wallet_ledger",
        sa.Column("id", sa.CHAR(26), primary_key=True),
        _user_fk(),
        sa.Column("token_type", enum("regular", "promo", name="token_type"), nullable=False),
        sa.Column("direction", enum("credit", "debit", name="direction"), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("amount", UNSIGNED_BIGINT, nullable=False),
        sa.Column("balance_after_regular", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("balance_after_promo", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("reference_id", sa.String(128), nullable=True),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_wallet_ledger_amount_positive"),
        sa.Index("idx_ledger_occurred_at", "occurred_at"),
        sa.Index("idx_ledger_user_occurred_at", "user_id", "occurred_at"),
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.CHAR(26), primary_key=True),
        _user_fk(),
        sa.Column("provider", enum("razorpay", "stripe", name="purchase_provider"), nullable=False),
        sa.Column("provider_ref", sa.String(128), nullable=True),
        sa.Column("tokens", UNSIGNED_BIGINT, nullable=False),
        sa.Column("amount_inr", sa.Numeric(12, 2), nullable=False),
        sa.Column(
            "status",
            enum("created", "pending", "paid", "failed", "refunded", name="purchase_status"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("paid_at", sa.DateTime, nullable=True),
        sa.Index("idx_purchases_created_at", "created_at"),
        sa.Index("idx_purchases_paid_at", "paid_at"),
        sa.Index("idx_purchases_user_id", "user_id"),
    )
    op.create_table(
        "promo_campaigns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("starts_at", sa.DateTime, nullable=False),
        sa.Column("ends_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.CHAR(26), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.String(64),
            sa.ForeignKey("promo_campaigns.id", ondelete="SET NULL"),
            nullable=True,
        ),
        _user_fk("referrer_user_id"),
        _user_fk("referred_user_id"),
        sa.Column("status", enum("pending", "credited", name="referral_status"), nullable=False),
        sa.Column("bonus_awarded", UNSIGNED_BIGINT, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("credited_at", sa.DateTime, nullable=True),
        sa.Index("idx_referrals_created_at", "created_at"),
        sa.Index("idx_referrals_campaign_created_at", "campaign_id", "created_at"),
    )
    op.create_table(
        "token_authorizations",
        sa.Column("id", sa.CHAR(26), primary_key=True),
        _user_fk(),
        sa.Column("feature", sa.String(64), nullable=False),
        sa.Column("amount", UNSIGNED_BIGINT, nullable=False),
        sa.Column("captured_amount", UNSIGNED_BIGINT, nullable=True),
        sa.Column(
            "status",
            enum("created", "held", "captured", "voided", "expired", name="authorization_status"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=True),
        sa.Column("captured_at", sa.DateTime, nullable=True),
        sa.Index("idx_authorizations_created_at", "created_at"),
    )


def downgrade() -> None:
    for table in (
        "token_authorizations",
        "referrals",
        "promo_campaigns",
        "purchases",
        "wallet_ledger",
        "wallets",
        "users",
    ):
        op.drop_table(table)
