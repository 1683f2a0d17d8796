"""Reads of the materialized tables over the usable stored days of a range (core.analytics.days).

Only days with an analytics_token_daily row count (the ETL writes a day's rows in that row's
transaction), whatever else a table may hold, and only while no pending change makes them dirty.
The rows of the detail tables that carry bitmaps
are kept in the process per day (core.analytics.cache); a reader asks the database for the days'
figures or versions, and for the rows of the days the process does not hold yet.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from core.aggregates import PurchaseTotals, ReferralTotals, money
from core.analytics.cache import database_key, days
from core.analytics.days import StoredRange
from core.dialect import equals_exactly, exactly
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_purchases,
    analytics_daily_referrals,
    analytics_daily_users,
    analytics_token_daily,
)

_day = analytics_token_daily.c


def _rows_of_days(conn: Connection, table: sa.Table, versions: dict[date, str]) -> list[dict]:
    """Every row of `table` for these materialized days, bitmaps deserialized: each day's rows
    from the process's cache under the day's version, from the database (in one query, in the
    request's transaction, so under the same versions) only for the days it does not hold."""
    database = database_key(conn)
    rows: list[dict] = []
    missing: dict[date, str] = {}
    for day, version in versions.items():
        cached = days.get((database, table.name, day), version)
        if cached is None:
            missing[day] = version
        else:
            rows += cached
    if missing:
        fetched: dict[date, list[dict]] = {day: [] for day in missing}
        for row in conn.execute(sa.select(table).where(table.c.date.in_(sorted(missing)))).mappings():
            fetched[row["date"]].append(
                {name: BitMap.deserialize(value) if isinstance(value, bytes) else value for name, value in row.items()}
            )
        for day, version in missing.items():
            days.put((database, table.name, day), version, fetched[day])
            rows += fetched[day]
    return rows


def _union(bitmaps: list[BitMap]) -> BitMap:
    return BitMap.union(*bitmaps) if bitmaps else BitMap()


def daily_users(conn: Connection, versions: dict[date, str]) -> dict[date, BitMap]:
    """The active users of each of these materialized days (with their versions)."""
    return {row["date"]: row["users"] for row in _rows_of_days(conn, analytics_daily_users, versions)}


def breakdown(conn: Connection, versions: dict[date, str], reason: str | None = None,
              token_type: str | None = None) -> tuple[int, int, BitMap]:
    """Credited, debited and the users behind them for the matching (reason, token_type) rows;
    the reason compared exactly, byte for byte."""
    rows = [
        row for row in _rows_of_days(conn, analytics_daily_breakdown, versions)
        if reason in (None, row["reason"]) and token_type in (None, row["token_type"])
    ]
    credited = sum(int(row["credited"]) for row in rows)
    debited = sum(int(row["debited"]) for row in rows)
    return credited, debited, _union([row["users"] for row in rows])


def sums_by(conn: Connection, days: StoredRange, column: str) -> dict[str, list[int]]:
    """[credited, debited] per `reason` or per `token_type` over the usable days, summed by the
    database."""
    b = analytics_daily_breakdown.c
    key = exactly(conn, b[column]).label(column)
    query = (
        sa.select(key, sa.func.sum(b.credited), sa.func.sum(b.debited))
        .select_from(analytics_daily_breakdown.join(analytics_token_daily, _day.date == b.date))
        .where(_day.date >= days.first, _day.date <= days.last)
        .group_by(key)
    )
    if days.dirty:
        query = query.where(_day.date.not_in(sorted(days.dirty)))
    rows = conn.execute(query)
    return {name: [int(credited), int(debited)] for name, credited, debited in rows}


def days_with_reason(conn: Connection, days: StoredRange, reason: str) -> set[date]:
    """The usable stored days whose breakdown holds ledger rows of `reason` (byte for byte)."""
    b = analytics_daily_breakdown.c
    query = sa.select(b.date).distinct().where(b.date >= days.first, b.date <= days.last,
                                               equals_exactly(conn, b.reason, reason))
    usable = days.usable
    return {day for (day,) in conn.execute(query) if day in usable}


def purchases(conn: Connection, versions: dict[date, str]) -> PurchaseTotals:
    rows = _rows_of_days(conn, analytics_daily_purchases, versions)
    totals = PurchaseTotals()
    for row in rows:
        totals.purchases += int(row["purchases"])
        totals.tokens += int(row["tokens"])
        totals.revenue_in_inr += money(row["revenue_in_inr"])
    totals.buyers = _union([row["buyers"] for row in rows])
    return totals


def referrals(conn: Connection, versions: dict[date, str], campaign_id: str | None) -> ReferralTotals:
    """Totals of one campaign (compared exactly, byte for byte) or of all."""
    rows = [
        row for row in _rows_of_days(conn, analytics_daily_referrals, versions)
        if campaign_id in (None, row["campaign_id"])
    ]
    totals = ReferralTotals()
    for row in rows:
        totals.referrals += int(row["referrals"])
        totals.successful += int(row["successful"])
        totals.bonus_awarded += int(row["bonus_awarded"])
    totals.referrers = _union([row["referrers"] for row in rows])
    return totals
