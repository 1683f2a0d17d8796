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


def _in_range(table: sa.Table, first: date, last: date) -> sa.Select:
    """FROM table JOIN analytics_token_daily USING (date) WHERE date in [first, last]."""
    return (
        sa.select()
        .select_from(table.join(analytics_token_daily, _day.date == table.c.date))
        .where(_day.date >= first, _day.date <= last)
    )


def token_days(conn: Connection, first: date, last: date) -> dict[date, StoredDay]:
    """The materialized days of the range with their totals (the keys are the materialized days)."""
    rows = conn.execute(
        sa.select(_day.date, _day.credited, _day.debited, _day.revenue_in_inr)
        .where(_day.date >= first, _day.date <= last)
    )
    return {day: StoredDay(int(credited), int(debited), money(revenue)) for day, credited, debited, revenue in rows}


def daily_users(conn: Connection, first: date, last: date) -> dict[date, BitMap]:
    users = analytics_daily_users.c
    rows = conn.execute(_in_range(analytics_daily_users, first, last).add_columns(users.date, users.users))
    return {day: BitMap.deserialize(blob) for day, blob in rows}


def breakdown(conn: Connection, first: date, last: date, reason: str | None = None,
              token_type: str | None = None) -> tuple[int, int, BitMap]:
    """Credited, debited and the users behind them for the matching (reason, token_type) rows."""
    b = analytics_daily_breakdown.c
    query = _in_range(analytics_daily_breakdown, first, last).add_columns(b.credited, b.debited, b.users)
    if reason is not None:
        query = query.where(equals_exactly(conn, b.reason, reason))
    if token_type is not None:
        query = query.where(b.token_type == token_type)
    credited = debited = 0
    users = []
    for row_credited, row_debited, blob in conn.execute(query):
        credited += int(row_credited)
        debited += int(row_debited)
        users.append(BitMap.deserialize(blob))
    return credited, debited, BitMap.union(*users) if users else BitMap()


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
    totals = PurchaseTotals()
    buyers = []
    rows = conn.execute(
        _in_range(analytics_daily_purchases, first, last).add_columns(p.purchases, p.tokens, p.revenue_in_inr, p.buyers)
    )
    for count, tokens, revenue, blob in rows:
        totals.purchases += int(count)
        totals.tokens += int(tokens)
        totals.revenue_in_inr += money(revenue)
        buyers.append(BitMap.deserialize(blob))
    totals.buyers = BitMap.union(*buyers) if buyers else BitMap()
    return totals


def referrals(conn: Connection, first: date, last: date, campaign_id: str | None) -> ReferralTotals:
    r = analytics_daily_referrals.c
    query = _in_range(analytics_daily_referrals, first, last).add_columns(
        r.referrals, r.successful, r.bonus_awarded, r.referrers
    )
    if campaign_id is not None:
        query = query.where(equals_exactly(conn, r.campaign_id, campaign_id))
    totals = ReferralTotals()
    referrers = []
    for count, successful, bonus, blob in conn.execute(query):
        totals.referrals += int(count)
        totals.successful += int(successful)
        totals.bonus_awarded += int(bonus)
        referrers.append(BitMap.deserialize(blob))
    totals.referrers = BitMap.union(*referrers) if referrers else BitMap()
    return totals
