"""Reads of the materialized tables over the materialized days of a range.

Detail tables are joined with analytics_token_daily so that only days the ETL finished count,
whatever else a table may hold. Each reader is one query over at most 366 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from core.aggregates import PurchaseTotals, ReferralTotals, money
from core.analytics.cache import bitmaps
from core.dialect import equals_exactly
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_purchases,
    analytics_daily_referrals,
    analytics_daily_users,
    analytics_token_daily,
)

_day = analytics_token_daily.c


@dataclass
class StoredDay:
    credited: int
    debited: int
    revenue_in_inr: Decimal
    version: str


def _in_range(table: sa.Table, first: date, last: date) -> sa.Select:
    """FROM table JOIN analytics_token_daily USING (date) WHERE date in [first, last]."""
    return (
        sa.select()
        .select_from(table.join(analytics_token_daily, _day.date == table.c.date))
        .where(_day.date >= first, _day.date <= last)
    )


def token_days(conn: Connection, first: date, last: date) -> dict[date, StoredDay]:
    """The materialized days of the range with their totals and versions (the keys are the
    materialized days)."""
    rows = conn.execute(
        sa.select(_day.date, _day.credited, _day.debited, _day.revenue_in_inr, analytics_daily_users.c.version)
        .join(analytics_daily_users, analytics_daily_users.c.date == _day.date)
        .where(_day.date >= first, _day.date <= last)
    )
    return {day: StoredDay(int(credited), int(debited), money(revenue), version)
            for day, credited, debited, revenue, version in rows}


def _with_version(table: sa.Table, first: date, last: date) -> sa.Select:
    """_in_range, with the day's version (see core.analytics.cache) as the first column."""
    return _in_range(table, first, last).join(
        analytics_daily_users, analytics_daily_users.c.date == table.c.date
    ).add_columns(analytics_daily_users.c.version)


def _bitmaps(conn: Connection, table: sa.Table, blob: str, keyed_versions: list[tuple[tuple, str]],
             *conditions: sa.ColumnElement[bool]) -> dict[tuple, BitMap]:
    """The bitmaps in column `blob` of the rows with these primary keys (the date first), each
    under its day's version: from the process's cache, and from the database only for the days
    it does not hold (in the request's transaction, so under the same versions)."""
    database = conn.engine.url.render_as_string(hide_password=False)
    found: dict[tuple, BitMap] = {}
    missing_days: set[date] = set()
    for key, version in keyed_versions:
        cached = bitmaps.get((database, table.name, key), version)
        if cached is None:
            missing_days.add(key[0])
        else:
            found[key] = cached
    if missing_days:
        query = sa.select(*table.primary_key.columns, table.c[blob], analytics_daily_users.c.version)
        if table is not analytics_daily_users:
            query = query.join_from(table, analytics_daily_users, analytics_daily_users.c.date == table.c.date)
        rows = conn.execute(query.where(table.c.date.in_(sorted(missing_days)), *conditions))
        for *key, data, version in rows:
            bitmap = BitMap.deserialize(data)
            bitmaps.put((database, table.name, tuple(key)), version, bitmap)
            found[tuple(key)] = bitmap
    return found


def _union(found: dict[tuple, BitMap]) -> BitMap:
    return BitMap.union(*found.values()) if found else BitMap()


def daily_users(conn: Connection, days: dict[date, StoredDay]) -> dict[date, BitMap]:
    """The active users of each of these materialized days (from `token_days`)."""
    found = _bitmaps(conn, analytics_daily_users, "users", [((day,), stored.version) for day, stored in days.items()])
    return {key[0]: bitmap for key, bitmap in found.items()}


def breakdown(conn: Connection, first: date, last: date, reason: str | None = None,
              token_type: str | None = None) -> tuple[int, int, BitMap]:
    """Credited, debited and the users behind them for the matching (reason, token_type) rows."""
    b = analytics_daily_breakdown.c
    conditions = []
    if reason is not None:
        conditions.append(equals_exactly(conn, b.reason, reason))
    if token_type is not None:
        conditions.append(b.token_type == token_type)
    rows = conn.execute(
        _with_version(analytics_daily_breakdown, first, last)
        .add_columns(b.date, b.reason, b.token_type, b.credited, b.debited).where(*conditions)
    ).all()
    credited = sum(int(row.credited) for row in rows)
    debited = sum(int(row.debited) for row in rows)
    keyed = [((row.date, row.reason, row.token_type), row.version) for row in rows]
    return credited, debited, _union(_bitmaps(conn, analytics_daily_breakdown, "users", keyed, *conditions))


def sums_by(conn: Connection, first: date, last: date, column: str) -> dict[str, list[int]]:
    """[credited, debited] per `reason` or per `token_type`, summed by the database."""
    b = analytics_daily_breakdown.c
    key = b[column]
    rows = conn.execute(
        _in_range(analytics_daily_breakdown, first, last)
        .add_columns(key, sa.func.sum(b.credited), sa.func.sum(b.debited))
        .group_by(key)
    )
    return {name: [int(credited), int(debited)] for name, credited, debited in rows}


def purchases(conn: Connection, first: date, last: date) -> PurchaseTotals:
    p = analytics_daily_purchases.c
    rows = conn.execute(
        _with_version(analytics_daily_purchases, first, last).add_columns(p.date, p.purchases, p.tokens, p.revenue_in_inr)
    ).all()
    totals = PurchaseTotals()
    for row in rows:
        totals.purchases += int(row.purchases)
        totals.tokens += int(row.tokens)
        totals.revenue_in_inr += money(row.revenue_in_inr)
    totals.buyers = _union(_bitmaps(conn, analytics_daily_purchases, "buyers", [((row.date,), row.version) for row in rows]))
    return totals


def referrals(conn: Connection, first: date, last: date, campaign_id: str | None) -> ReferralTotals:
    r = analytics_daily_referrals.c
    conditions = [] if campaign_id is None else [equals_exactly(conn, r.campaign_id, campaign_id)]
    rows = conn.execute(
        _with_version(analytics_daily_referrals, first, last)
        .add_columns(r.date, r.campaign_id, r.referrals, r.successful, r.bonus_awarded).where(*conditions)
    ).all()
    totals = ReferralTotals()
    for row in rows:
        totals.referrals += int(row.referrals)
        totals.successful += int(row.successful)
        totals.bonus_awarded += int(row.bonus_awarded)
    keyed = [((row.date, row.campaign_id), row.version) for row in rows]
    totals.referrers = _union(_bitmaps(conn, analytics_daily_referrals, "referrers", keyed, *conditions))
    return totals
