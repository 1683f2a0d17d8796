"""How far the materialized data reaches and how the ETL runs went, for the admin status route."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from core.dates import days
from core.etl import runs
from core.etl.plan import earliest_ledger_day, materialized_days
from core.tables import analytics_token_daily


@dataclass
class EtlStatus:
    earliest_ledger_day: date | None
    # The latest D such that every day from the earliest ledger day to D is materialized.
    materialized_through: date | None
    latest_materialized_day: date | None
    # Days from the earliest ledger day to yesterday that are not materialized.
    missing_days: int
    last_run: RowMapping | None
    last_success: RowMapping | None


def etl_status(engine: Engine, tz: ZoneInfo, today: date) -> EtlStatus:
    with engine.connect() as conn:
        earliest = earliest_ledger_day(conn, tz)
        latest = conn.execute(sa.select(sa.func.max(analytics_token_daily.c.date))).scalar()
        yesterday = today - timedelta(days=1)
        through, missing = None, 0
        if earliest is not None and earliest <= yesterday:
            done = materialized_days(conn, earliest, yesterday)
            pending = [day for day in days(earliest, yesterday) if day not in done]
            missing = len(pending)
            first_missing = pending[0] if pending else today
            through = first_missing - timedelta(days=1) if first_missing > earliest else None
        return EtlStatus(
            earliest_ledger_day=earliest, materialized_through=through, latest_materialized_day=latest,
            missing_days=missing, last_run=runs.last_run(conn), last_success=runs.last_run(conn, runs.SUCCEEDED),
        )
