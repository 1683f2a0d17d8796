"""Shared helpers of the ETL tests."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.etl.job import run_etl
from core.materialize import materialize_day
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_purchases,
    analytics_daily_referrals,
    analytics_daily_users,
    analytics_token_daily,
    analytics_user_daily,
    analytics_user_monthly,
    analytics_user_months_packed,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
# 11:30 on 2025-11-10 in Kolkata: yesterday is 2025-11-09.
NOW = datetime(2025, 11, 10, 6, 0)
DAY_TABLES = (
    analytics_token_daily, analytics_daily_breakdown, analytics_daily_users, analytics_user_daily,
    analytics_user_monthly, analytics_user_months_packed, analytics_daily_purchases, analytics_daily_referrals,
)
WRITE_TIMES = {"created_at", "updated_at"}


def etl(db, settings, dates=None, now=NOW, out=None, cleanup=lambda: 0, **options):
    """Run the ETL at the fixed `now`; returns the result and its log."""
    out = out or io.StringIO()
    result = run_etl(db, settings, cleanup=cleanup, trigger="test", dates=dates, out=out,
                     clock=lambda: now, **options)
    return result, out.getvalue()


def snapshot(engine) -> dict[str, list[dict]]:
    """Every row the ETL writes for days, without the times it wrote them."""
    with engine.connect() as conn:
        return {
            table.name: [
                {k: v for k, v in row._asdict().items() if k not in WRITE_TIMES}
                for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in DAY_TABLES
        }


def token_daily(engine) -> dict:
    with engine.connect() as conn:
        return {row.date: row._asdict() for row in conn.execute(sa.select(analytics_token_daily))}


def rematerialized(engine, tz: ZoneInfo = KOLKATA) -> dict[str, list[dict]]:
    """The snapshot after every stored day is materialized afresh from the base tables, each as
    far as it was stored (its covered_until), its old rows deleted first. Compare it with a
    snapshot taken before: they are equal when the stored days were exact. Leaves pending
    changes as they are."""
    daily = analytics_token_daily.c
    with engine.begin() as conn:
        stored = conn.execute(sa.select(daily.date, daily.covered_until).order_by(daily.date)).all()
        for table in DAY_TABLES:
            conn.execute(table.delete())
    for day, covered_until in stored:
        materialize_day(engine, day, tz, covered_until=covered_until, folded=[])
    return snapshot(engine)
