"""Token questions: overview, trend, by feature, composition (DESIGN.md, "Meaning of the numbers").

Materialized days come from the stored aggregates, the other days from the ledger through
core.aggregates (the ETL's own definitions); both are added up here into one answer. Distinct users are unions of bitmaps,
so a period's active users are exact, never a sum of daily counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pyroaring import BitMap
from sqlalchemy.engine import Connection

from core.aggregates import composition, ledger_sums, ledger_volume, money, paid_revenue
from core.analytics import stored
from core.analytics.days import read_range
from core.dates import month_start, next_month
from core.dialect import equals_exactly
from core.tables import wallet_ledger

GRANULARITIES = ("daily", "weekly", "monthly")
PURCHASE_REASON = "purchase"
ZERO_MONEY = money(0)


def _kpis(credited: int, debited: int, revenue: Decimal, users: BitMap) -> dict:
    return {"credited": credited, "debited": debited, "net": credited - debited,
            "revenue_in_inr": revenue, "active_users": len(users)}


def _has_revenue(feature: str | None, token_type: str | None) -> bool:
    """Purchases credit regular tokens under the reason `purchase`; nothing else earns money."""
    return feature in (None, PURCHASE_REASON) and token_type in (None, "regular")


def token_overview(conn: Connection, first: date, last: date, tz: ZoneInfo,
                   feature: str | None = None, token_type: str | None = None) -> dict:
    stored_range = read_range(conn, first, last, tz)
    stored_days = stored_range.usable
    live_bounds = stored_range.live_bounds(tz)
    revenue = ZERO_MONEY
    if _has_revenue(feature, token_type):
        revenue = sum((day.revenue_in_inr for day in stored_days.values()), paid_revenue(conn, live_bounds))
    if feature is None and token_type is None:
        live = ledger_volume(conn, live_bounds)
        credited = sum((day.credited for day in stored_days.values()), live.credited)
        debited = sum((day.debited for day in stored_days.values()), live.debited)
        users = BitMap.union(live.users, *stored.daily_users(conn, stored_range.versions).values())
        return _kpis(credited, debited, revenue, users)
    ledger = wallet_ledger.c
    conditions = []
    if feature is not None:
        conditions.append(equals_exactly(conn, ledger.reason, feature))
    if token_type is not None:
        conditions.append(ledger.token_type == token_type)
    live = ledger_volume(conn, live_bounds, *conditions)
    credited, debited, users = stored.breakdown(conn, stored_range.versions, feature, token_type)
    return _kpis(credited + live.credited, debited + live.debited, revenue, users | live.users)


def bucket_start(day: date, granularity: str) -> date:
    if granularity == "weekly":
        return day - timedelta(days=day.weekday())
    if granularity == "monthly":
        return month_start(day)
    return day


def _next_bucket(start: date, granularity: str) -> date:
    if granularity == "weekly":
        return start + timedelta(days=7)
    if granularity == "monthly":
        return next_month(start)
    return start + timedelta(days=1)


def buckets(first: date, last: date, granularity: str) -> Iterator[tuple[date, date, date]]:
    """(label, first day, last day) of every bucket touching [first, last], clipped to it."""
    start = bucket_start(first, granularity)
    while start <= last:
        following = _next_bucket(start, granularity)
        yield start, max(start, first), min(following - timedelta(days=1), last)
        start = following


def token_trend(conn: Connection, first: date, last: date, tz: ZoneInfo, granularity: str) -> dict:
    stored_range = read_range(conn, first, last, tz)
    stored_days = stored_range.usable
    stored_users = stored.daily_users(conn, stored_range.versions)
    days_of_bucket: dict[date, list[date]] = defaultdict(list)
    for day in stored_days:
        days_of_bucket[bucket_start(day, granularity)].append(day)
    series = []
    for label, bucket_first, bucket_last in buckets(first, last, granularity):
        bounds = stored_range.live_bounds(tz, bucket_first, bucket_last)
        live = ledger_volume(conn, bounds)
        days = days_of_bucket.get(label, [])
        credited = sum((stored_days[day].credited for day in days), live.credited)
        debited = sum((stored_days[day].debited for day in days), live.debited)
        revenue = sum((stored_days[day].revenue_in_inr for day in days), paid_revenue(conn, bounds))
        users = BitMap.union(live.users, *(stored_users[day] for day in days if day in stored_users))
        series.append({"date": label.isoformat(), **_kpis(credited, debited, revenue, users)})
    return {"series": series}


def _sums_by(conn: Connection, first: date, last: date, tz: ZoneInfo, key: str) -> tuple[dict, list[tuple]]:
    """[credited, debited] per `key` of the usable stored days, and (key, credited, debited)
    of the rest of the range from the ledger."""
    stored_range = read_range(conn, first, last, tz)
    live = ledger_sums(conn, stored_range.live_bounds(tz), wallet_ledger.c[key])
    return stored.sums_by(conn, stored_range, key), live


def tokens_by_feature(conn: Connection, first: date, last: date, tz: ZoneInfo) -> dict:
    """Items ordered by feature name, as the spec's example is."""
    features, live = _sums_by(conn, first, last, tz, "reason")
    for reason, credited, debited in live:
        sums = features.setdefault(reason, [0, 0])
        sums[0] += credited
        sums[1] += debited
    return {"items": [{"feature": reason, "credited": credited, "debited": debited}
                      for reason, (credited, debited) in sorted(features.items())]}


def token_composition(conn: Connection, first: date, last: date, tz: ZoneInfo) -> dict:
    volumes = {"regular": 0, "promo": 0}
    stored_sums, live = _sums_by(conn, first, last, tz, "token_type")
    for token_type, (credited, debited) in stored_sums.items():
        volumes[token_type] += credited + debited
    for token_type, credited, debited in live:
        volumes[token_type] += credited + debited
    return composition(volumes["regular"], volumes["promo"])
