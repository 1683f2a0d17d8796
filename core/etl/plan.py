"""Which local days an ETL run materializes.

A day is materialized when it has an analytics_token_daily row. Today and later days are never
materialized: their rows are still arriving.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.dates import days, to_local_date
from core.errors import BusinessRuleViolation
from core.tables import analytics_token_daily, wallet_ledger


def earliest_ledger_day(conn: Connection, tz: ZoneInfo) -> date | None:
    first = conn.execute(sa.select(sa.func.min(wallet_ledger.c.occurred_at))).scalar()
    return None if first is None else to_local_date(first, tz)


def materialized_days(conn: Connection, first: date, last: date) -> set[date]:
    daily = analytics_token_daily.c
    return set(conn.execute(sa.select(daily.date).where(daily.date >= first, daily.date <= last)).scalars())


def nightly_dates(conn: Connection, tz: ZoneInfo, lookback_days: int, today: date) -> list[date]:
    """Every day from the earliest ledger entry's to yesterday that is not materialized (gaps
    included), plus the last `lookback_days` days again for rows that arrived late."""
    earliest = earliest_ledger_day(conn, tz)
    yesterday = today - timedelta(days=1)
    if earliest is None or earliest > yesterday:
        return []
    done = materialized_days(conn, earliest, yesterday)
    lookback_start = today - timedelta(days=lookback_days)
    return [day for day in days(earliest, yesterday) if day not in done or day >= lookback_start]


def requested_dates(first: date, last: date, today: date, tz: ZoneInfo) -> list[date]:
    """Exactly first..last, materialized or not; refused whole if it reaches today or later."""
    if first > last:
        raise BusinessRuleViolation(f"the range starts ({first}) after it ends ({last}); swap them")
    if last >= today:
        when = "today" if last == today else "in the future"
        raise BusinessRuleViolation(
            f"{last} is {when} in {tz.key}: a day is materialized only once it has ended; "
            f"the latest date allowed is {today - timedelta(days=1)}"
        )
    return list(days(first, last))
