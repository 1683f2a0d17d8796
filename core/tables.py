"""SQLAlchemy Core tables: the base wallet schema (phases 1-4) and the analytics schema (phase 5).

Column names of the base schema are a contract (DESIGN.md): other tools insert into them.
The migrations in `migrations/versions` create exactly these tables; a test compares them.
"""

import sqlalchemy as sa

from core.dialect import BITMAP, EMPTY_JSON_OBJECT, UNSIGNED_BIGINT, UNSIGNED_INT, UTC_DATETIME, enum
from core.exports.status import ExportStatus

metadata = sa.MetaData()

TOKEN_TYPES = ("regular", "promo")
DIRECTIONS = ("credit", "debit")
USER_ROLES = ("user", "admin", "service")
PURCHASE_PROVIDERS = ("razorpay", "stripe")
PURCHASE_STATUSES = ("created", "pending", "paid", "failed", "refunded")
REFERRAL_STATUSES = ("pending", "credited")
AUTHORIZATION_STATUSES = ("created", "held", "captured", "voided", "expired")
EXPORT_TYPES = ("csv", "json", "jsonl", "parquet", "xlsx")
EXPORT_COMPRESSIONS = ("none", "gzip")
EXPORT_STATUSES = tuple(status.value for status in ExportStatus)


def _user_fk(name: str = "user_id", **kw) -> sa.Column:
    return sa.Column(name, UNSIGNED_INT, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, **kw)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("role", enum(*USER_ROLES, name="user_role"), nullable=False, server_default="user"),
    sa.Column("created_at", UTC_DATETIME, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Index("idx_users_created_at", "created_at"),
)

wallets = sa.Table(
    "wallets",
    metadata,
    sa.Column("user_id", UNSIGNED_INT, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("balance_regular", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("balance_promo", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("updated_at", UTC_DATETIME, nullable=False, server_default=sa.func.current_timestamp()),
)

wallet_ledger = sa.Table(
    "wallet_ledger",
    metadata,
    sa.Column("id", sa.CHAR(26), primary_key=True),
    _user_fk(),
    sa.Column("token_type", enum(*TOKEN_TYPES, name="token_type"), nullable=False),
    sa.Column("direction", enum(*DIRECTIONS, name="direction"), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("amount", UNSIGNED_BIGINT, nullable=False),
    sa.Column("balance_after_regular", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("balance_after_promo", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("reference_id", sa.String(128), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=True),
    sa.Column("occurred_at", UTC_DATETIME, nullable=False),
    sa.CheckConstraint("amount > 0", name="ck_wallet_ledger_amount_positive"),
    sa.Index("idx_ledger_occurred_at", "occurred_at"),
    sa.Index("idx_ledger_user_occurred_at", "user_id", "occurred_at"),
    # Covers the per-day rollup of the ETL and the real-time path: an index-only range scan.
    sa.Index("idx_ledger_day_rollup", "occurred_at", "user_id", "reason", "token_type", "direction", "amount"),
)

purchases = sa.Table(
    "purchases",
    metadata,
    sa.Column("id", sa.CHAR(26), primary_key=True),
    _user_fk(),
    sa.Column("provider", enum(*PURCHASE_PROVIDERS, name="purchase_provider"), nullable=False),
    sa.Column("provider_ref", sa.String(128), nullable=True),
    sa.Column("tokens", UNSIGNED_BIGINT, nullable=False),
    sa.Column("amount_inr", sa.Numeric(12, 2), nullable=False),
    sa.Column("status", enum(*PURCHASE_STATUSES, name="purchase_status"), nullable=False),
    sa.Column("created_at", UTC_DATETIME, nullable=False),
    sa.Column("paid_at", UTC_DATETIME, nullable=True),
    sa.Index("idx_purchases_created_at", "created_at"),
    sa.Index("idx_purchases_paid_at", "paid_at"),
    sa.Index("idx_purchases_user_id", "user_id"),
)

promo_campaigns = sa.Table(
    "promo_campaigns",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("starts_at", UTC_DATETIME, nullable=False),
    sa.Column("ends_at", UTC_DATETIME, nullable=True),
)

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.CHAR(26), primary_key=True),
    sa.Column(
        "campaign_id", sa.String(64), sa.ForeignKey("promo_campaigns.id", ondelete="SET NULL"), nullable=True
    ),
    _user_fk("referrer_user_id"),
    _user_fk("referred_user_id"),
    sa.Column("status", enum(*REFERRAL_STATUSES, name="referral_status"), nullable=False),
    sa.Column("bonus_awarded", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("created_at", UTC_DATETIME, nullable=False),
    sa.Column("credited_at", UTC_DATETIME, nullable=True),
    sa.Index("idx_referrals_created_at", "created_at"),
    sa.Index("idx_referrals_campaign_created_at", "campaign_id", "created_at"),
)

token_authorizations = sa.Table(
    "token_authorizations",
    metadata,
    sa.Column("id", sa.CHAR(26), primary_key=True),
    _user_fk(),
    sa.Column("feature", sa.String(64), nullable=False),
    sa.Column("amount", UNSIGNED_BIGINT, nullable=False),
    sa.Column("captured_amount", UNSIGNED_BIGINT, nullable=True),
    sa.Column("status", enum(*AUTHORIZATION_STATUSES, name="authorization_status"), nullable=False),
    sa.Column("created_at", UTC_DATETIME, nullable=False),
    sa.Column("expires_at", UTC_DATETIME, nullable=True),
    sa.Column("captured_at", UTC_DATETIME, nullable=True),
    sa.Index("idx_authorizations_created_at", "created_at"),
)

analytics_token_daily = sa.Table(
    "analytics_token_daily",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("credited", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("debited", UNSIGNED_BIGINT, nullable=False, server_default="0"),
    sa.Column("net", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("revenue_in_inr", sa.Numeric(15, 2), nullable=False, server_default="0"),
    sa.Column("active_users", UNSIGNED_INT, nullable=False, server_default="0"),
    sa.Column("by_feature", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
    sa.Column("regular_vs_promo", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
    sa.Column("created_at", UTC_DATETIME, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("updated_at", UTC_DATETIME, nullable=False, server_default=sa.func.current_timestamp()),
    # NULL: the stored figures cover the whole day. Else the day is today, materialized as it
    # goes: they cover its start up to this instant (naive UTC), the rest is read from the ledger.
    sa.Column("covered_until", UTC_DATETIME, nullable=True),
)

# Written by the triggers of migration 0006 on every change of wallet_ledger, purchases,
# referrals (and users, promo_campaigns deletes): the UTC minute (since 1970-01-01) the change
# touched. Read and trimmed only by core.changes.
analytics_changes = sa.Table(
    "analytics_changes",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("minute", sa.Integer, nullable=False),
    sa.Column("changed_at", UTC_DATETIME, nullable=False),
)

# One row (id 1): how many transactions have deleted rows of analytics_changes, counted in the
# same transaction. While it stands still the log only grows, so an equal count of pending
# changes means no change was committed meanwhile (core.analytics.answers). Written only by
# core.changes.
analytics_changes_generation = sa.Table(
    "analytics_changes_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
)

analytics_exports = sa.Table(
    "analytics_exports",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    _user_fk(),
    sa.Column("type", enum(*EXPORT_TYPES, name="export_type"), nullable=False, server_default="csv"),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("filters", sa.JSON, nullable=False, server_default=EMPTY_JSON_OBJECT),
    sa.Column("status", enum(*EXPORT_STATUSES, name="export_status"), nullable=False, server_default="preparing"),
    sa.Column("estimated_rows", UNSIGNED_INT, nullable=True),
    sa.Column("actual_rows", UNSIGNED_INT, nullable=True),
    sa.Column("file_path", sa.String(255), nullable=True),
    sa.Column("download_url", sa.String(512), nullable=True),
    sa.Column("expires_at", UTC_DATETIME, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("created_at", UTC_DATETIME, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("completed_at", UTC_DATETIME, nullable=True),
    sa.Column("rows_written", UNSIGNED_INT, nullable=False, server_default="0"),
    sa.Column("file_size", UNSIGNED_BIGINT, nullable=True),
    sa.Column("columns", sa.JSON, nullable=True),
    # When a worker's attempt last showed life (started, or reported progress), and when the
    # janitor queued the export again because its message looked lost (core/exports/state.py).
    sa.Column("progress_at", UTC_DATETIME, nullable=True),
    sa.Column("requeued_at", UTC_DATETIME, nullable=True),
    # What was asked for (type, dataset, filters, columns) as a digest: an equal request of the
    # same admin is answered with the export it made (migration 0009); and the caller's key.
    sa.Column("request_digest", sa.CHAR(32), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    # How the file is compressed (gzip: `<id>.csv.gz`), and whether a CSV starts with a BOM for
    # Excel (migration 0012).
    sa.Column("compression", enum(*EXPORT_COMPRESSIONS, name="export_compression"), nullable=False,
              server_default="none"),
    sa.Column("excel", sa.Boolean(create_constraint=True, name="ck_exports_excel_boolean"), nullable=False,
              server_default=sa.false()),
    sa.Index("idx_user_status", "user_id", "status"),
    sa.Index("idx_exports_user_request", "user_id", "request_digest"),
    sa.Index("idx_exports_user_idempotency_key", "user_id", "idempotency_key"),
    sa.Index("idx_expires", "expires_at"),
    sa.Index("idx_exports_user_id", "user_id", "id"),
)



def _export_fk() -> sa.Column:
    # Audit rows live as long as their export's row (docs/exports.md, "Retention").
    return sa.Column("export_id", sa.String(26), sa.ForeignKey("analytics_exports.id", ondelete="CASCADE"),
                     nullable=False)


# Webhook events of export transitions, an outbox written in the transaction of the change
# (core/exports/webhooks.py, migration 0011): one per export and type, so never two for one
# transition. `body` is the exact JSON delivered on every attempt.
analytics_export_events = sa.Table(
    "analytics_export_events",
    metadata,
    sa.Column("id", sa.String(30), primary_key=True),  # evt_<ULID>
    _export_fk(),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTC_DATETIME, nullable=False),
    sa.Column("enqueued_at", UTC_DATETIME, nullable=True),
    sa.Column("last_attempt_at", UTC_DATETIME, nullable=True),
    sa.Column("lease_until", UTC_DATETIME, nullable=True),
    sa.Column("delivered_at", UTC_DATETIME, nullable=True),
    sa.UniqueConstraint("export_id", "type", name="uq_export_events_export_type"),
    sa.Index("idx_export_events_pending", "delivered_at", "created_at"),
)

analytics_export_webhook_attempts = sa.Table(
    "analytics_export_webhook_attempts",
    metadata,
    sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(30), sa.ForeignKey("analytics_export_events.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("attempt", UNSIGNED_INT, nullable=False),
    sa.Column("status_code", sa.SmallInteger, nullable=True),
    sa.Column("error", sa.String(255), nullable=True),
    sa.Column("attempted_at", UTC_DATETIME, nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Index("idx_webhook_attempts_event", "event_id", "attempt"),
)

# One row per request to a signed download link that passed the signature check
# (core/exports/downloads.py, migration 0011).
analytics_export_downloads = sa.Table(
    "analytics_export_downloads",
    metadata,
    sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
    _export_fk(),
    sa.Column("user_id", UNSIGNED_INT, nullable=False),  # the export's owner
    sa.Column("downloaded_at", UTC_DATETIME, nullable=False),
    sa.Column("client_address", sa.String(45), nullable=True),
    sa.Column("user_agent", sa.String(255), nullable=True),
    sa.Column("bytes_sent", UNSIGNED_BIGINT, nullable=True),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("range", sa.String(100), nullable=True),
    sa.Index("idx_export_downloads_export", "export_id", "id"),
)

# Pre-aggregates written by the ETL in the same transaction as a day's analytics_token_daily
# row (migration 0003). A day is "materialized" when it has an analytics_token_daily row.
# `users`, `buyers` and `referrers` are serialized roaring bitmaps of user ids, so distinct
# counts over any period are exact unions.

analytics_daily_users = sa.Table(
    "analytics_daily_users",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("users", BITMAP, nullable=False),
    # A digest of the day's stored bitmaps and figures: readers cache the day's bitmaps under it.
    sa.Column("version", sa.CHAR(26), nullable=False, server_default=""),
)

analytics_daily_breakdown = sa.Table(
    "analytics_daily_breakdown",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    # Byte for byte on MariaDB/MySQL (a NO PAD binary collation, migration 0008): reasons that
    # differ only in case or trailing spaces are different features.
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("token_type", enum(*TOKEN_TYPES, name="token_type"), primary_key=True),
    sa.Column("credited", UNSIGNED_BIGINT, nullable=False),
    sa.Column("debited", UNSIGNED_BIGINT, nullable=False),
    sa.Column("users", BITMAP, nullable=False),
)


def _user_sums(name: str, period: str) -> sa.Table:
    """Credited and debited per user and period."""
    return sa.Table(
        name,
        metadata,
        sa.Column(period, sa.Date, primary_key=True),
        sa.Column("user_id", UNSIGNED_INT, primary_key=True),
        sa.Column("credited", UNSIGNED_BIGINT, nullable=False),
        sa.Column("debited", UNSIGNED_BIGINT, nullable=False),
    )


analytics_user_daily = _user_sums("analytics_user_daily", "date")
# Always the sum of analytics_user_daily over the materialized days of the month (kept so by
# applying each day's change in the day's own transaction); `month` is the 1st.
analytics_user_monthly = _user_sums("analytics_user_monthly", "month")

analytics_daily_purchases = sa.Table(
    "analytics_daily_purchases",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("purchases", UNSIGNED_INT, nullable=False),
    sa.Column("tokens", UNSIGNED_BIGINT, nullable=False),
    sa.Column("revenue_in_inr", sa.Numeric(15, 2), nullable=False),
    sa.Column("buyers", BITMAP, nullable=False),
)

# campaign_id '' stands for referrals outside any campaign (a primary key cannot hold NULL).
analytics_daily_referrals = sa.Table(
    "analytics_daily_referrals",
    metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("campaign_id", sa.String(64), primary_key=True),
    sa.Column("referrals", UNSIGNED_INT, nullable=False),
    sa.Column("successful", UNSIGNED_INT, nullable=False),
    sa.Column("bonus_awarded", UNSIGNED_BIGINT, nullable=False),
    sa.Column("referrers", BITMAP, nullable=False),
)

ETL_RUN_STATUSES = ("queued", "running", "succeeded", "failed")

analytics_etl_runs = sa.Table(
    "analytics_etl_runs",
    metadata,
    sa.Column("id", UNSIGNED_INT, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("status", enum(*ETL_RUN_STATUSES, name="etl_run_status"), nullable=False),
    sa.Column("first_date", sa.Date, nullable=True),
    sa.Column("last_date", sa.Date, nullable=True),
    sa.Column("dates_processed", UNSIGNED_INT, nullable=False, server_default="0"),
    sa.Column("error_message", sa.Text, nullable=True),
    # A queued run's started_at is when it was queued, until it starts.
    sa.Column("started_at", UTC_DATETIME, nullable=False),
    sa.Column("finished_at", UTC_DATETIME, nullable=True),
    sa.Column("queued_at", UTC_DATETIME, nullable=True),
    sa.Index("idx_etl_runs_started_at", "started_at"),
)

# A month's rows of analytics_user_monthly in one value (core.user_months): what top users read,
# a few round trips instead of a row per user (a million rows a month at a million users).
analytics_user_months_packed = sa.Table(
    "analytics_user_months_packed",
    metadata,
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("sums", BITMAP, nullable=False),
)
