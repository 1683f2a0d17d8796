"""The operator's proof that stored days equal the base tables: every stored day of a range is
computed again (core.aggregates, as the ETL would) and compared, figure by figure, with what is
stored; a month's per-user sums are compared with the sum of its days'.

A stored day that differs while a captured change not folded in yet touches it is *pending*
(readers answer it from the base tables until the fold-in); any other difference is drift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection, Engine

from core import changes, user_months
from core.aggregates import DayAggregates, PurchaseTotals, ReferralTotals, Volume, compute_day, money
from core.config import Settings
from core.dates import month_start, next_month
from core.etl.job import run_etl
from core.etl.lock import etl_lock, holding
from core.etl.plan import partial_days_of
from core.materialize import forget_versions, rebuild_month
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_purchases,
    analytics_daily_referrals,
    analytics_daily_users,
    analytics_token_daily,
    analytics_user_daily,
    analytics_user_monthly,
)


@dataclass(frozen=True)
class DayDifference:
    day: date
    figures: list[str]  # what differs, e.g. "credited: stored 1600, base tables 101600"
    pending: bool       # a captured change not folded in yet touches the day


@dataclass(frozen=True)
class Verification:
    days_checked: int
    differences: list[DayDifference]
    months: list[str]  # months whose per-user sums differ from the sum of their days'

    @property
    def drift(self) -> list[DayDifference]:
        return [difference for difference in self.differences if not difference.pending]


def verify(engine: Engine, tz: ZoneInfo, first: date | None = None, last: date | None = None) -> Verification:
    """Compare every stored day in [first, last] (all of them by default), in one snapshot."""
    daily = analytics_token_daily.c
    with engine.connect() as conn:
        query = sa.select(daily.date, daily.covered_until).order_by(daily.date)
        if first is not None:
            query = query.where(daily.date >= first)
        if last is not None:
            query = query.where(daily.date <= last)
        stored_days = dict(conn.execute(query).all())
        if not stored_days:
            return Verification(0, [], [])
        dirty = changes.dirty_days(
            changes.pending_minutes(conn, min(stored_days), max(stored_days), tz), stored_days, tz)
        differences = []
        token_rows = {row.date: row for row in conn.execute(
            sa.select(analytics_token_daily).where(daily.date.in_(sorted(stored_days))))}
        for day, until in stored_days.items():
            actual = compute_day(conn, day, tz, until)
            figures = _compare_token_row(token_rows[day], actual) + _compare(load_day(conn, day, until), actual)
            users = conn.execute(sa.select(analytics_daily_users.c.users)
                                 .where(analytics_daily_users.c.date == day)).scalar()
            if users is None or BitMap.deserialize(users) != actual.users:
                figures.append("active users: the stored set of users differs")
            if figures:
                differences.append(DayDifference(day, figures, day in dirty))
        return Verification(len(stored_days), differences, _months_that_differ(conn, sorted(stored_days)))


def load_day(conn: Connection, day: date, covered_until) -> DayAggregates:
    """A stored day read back into the shape compute_day gives."""
    stored = DayAggregates(day=day, covered_until=covered_until)
    b = analytics_daily_breakdown.c
    for row in conn.execute(sa.select(analytics_daily_breakdown).where(b.date == day)):
        stored.breakdown[(row.reason, row.token_type)] = Volume(int(row.credited), int(row.debited),
                                                                 BitMap.deserialize(row.users))
    u = analytics_user_daily.c
    stored.user_sums = {user_id: [int(credited), int(debited)] for user_id, credited, debited in conn.execute(
        sa.select(u.user_id, u.credited, u.debited).where(u.date == day))}
    p = conn.execute(sa.select(analytics_daily_purchases).where(analytics_daily_purchases.c.date == day)).first()
    if p is not None:
        stored.purchases = PurchaseTotals(int(p.purchases), int(p.tokens), money(p.revenue_in_inr),
                                          BitMap.deserialize(p.buyers))
    r = analytics_daily_referrals.c
    for row in conn.execute(sa.select(analytics_daily_referrals).where(r.date == day)):
        stored.referrals[row.campaign_id] = ReferralTotals(int(row.referrals), int(row.successful),
                                                           int(row.bonus_awarded), BitMap.deserialize(row.referrers))
    return stored


def _differences(pairs: list[tuple[str, object, object]]) -> list[str]:
    return [f"{name}: stored {stored}, base tables {actual}" for name, stored, actual in pairs if stored != actual]


def _compare_token_row(row, actual: DayAggregates) -> list[str]:
    """The figures of the day's analytics_token_daily row (what other tools read)."""
    return _differences([
        ("credited", int(row.credited), actual.credited),
        ("debited", int(row.debited), actual.debited),
        ("net", int(row.net), actual.credited - actual.debited),
        ("revenue_in_inr", money(row.revenue_in_inr), actual.purchases.revenue_in_inr),
        ("active_users", int(row.active_users), len(actual.users)),
    ])


def _compare(stored: DayAggregates, actual: DayAggregates) -> list[str]:
    """The detail tables (what the API reads)."""
    figures = _differences([
        ("purchases", stored.purchases.purchases, actual.purchases.purchases),
        ("tokens sold", stored.purchases.tokens, actual.purchases.tokens),
        ("purchase revenue", stored.purchases.revenue_in_inr, actual.purchases.revenue_in_inr),
        ("unique_buyers", len(stored.purchases.buyers), len(actual.purchases.buyers)),
    ])
    if stored.breakdown != actual.breakdown:
        keys = sorted(set(stored.breakdown) ^ set(actual.breakdown)
                      | {key for key in set(stored.breakdown) & set(actual.breakdown)
                         if stored.breakdown[key] != actual.breakdown[key]})
        figures.append(f"by feature and token type: {len(keys)} group(s) differ, e.g. {keys[0]}")
    if stored.user_sums != actual.user_sums:
        users = set(stored.user_sums) | set(actual.user_sums)
        wrong = sorted(user for user in users if stored.user_sums.get(user) != actual.user_sums.get(user))
        figures.append(f"per-user sums: {len(wrong)} user(s) differ, e.g. user {wrong[0]}")
    if stored.referrals != actual.referrals:
        campaigns = sorted(set(stored.referrals) | set(actual.referrals))
        wrong = [c for c in campaigns if stored.referrals.get(c) != actual.referrals.get(c)]
        figures.append(f"referrals: {len(wrong)} campaign(s) differ, e.g. {wrong[0] or '(none)'!r}")
    return figures


def _months_that_differ(conn: Connection, stored_days: list[date]) -> list[str]:
    """Months whose analytics_user_monthly rows (or their packed value) are not the sum of their
    days' rows."""
    months = sorted({month_start(day) for day in stored_days})
    d, m = analytics_user_daily.c, analytics_user_monthly.c
    wrong = []
    for month in months:
        summed: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for user_id, credited, debited in conn.execute(
            sa.select(d.user_id, d.credited, d.debited).where(d.date >= month, d.date < next_month(month))
        ):
            summed[user_id][0] += int(credited)
            summed[user_id][1] += int(debited)
        monthly = {user_id: [int(credited), int(debited)] for user_id, credited, debited in conn.execute(
            sa.select(m.user_id, m.credited, m.debited).where(m.month == month))}
        packed = user_months.read(conn, month)
        packed_rows = {int(u): [int(c), int(d)] for u, c, d in zip(packed.user_ids, packed.credited, packed.debited)}
        if not {user: sums for user, sums in summed.items() if sums != [0, 0]} == monthly == packed_rows:
            wrong.append(month.strftime("%Y-%m"))
    return wrong


def repair(engine: Engine, settings: Settings, verification: Verification) -> None:
    """Materialize every day that differed again (whatever its stored version says), then set
    the per-user sums of their months, and of the months that differed, to their days' sums;
    all under the ETL lock, waiting for a run in progress."""
    days = {difference.day for difference in verification.differences}
    with engine.connect() as conn:
        part_of = partial_days_of(conn, days)
    forget_versions(engine, days)
    run_etl(engine, settings, cleanup=None, trigger="verify", dates=sorted(days), wait=True, part_of=part_of)
    months = {date.fromisoformat(f"{month}-01") for month in verification.months} | {month_start(day) for day in days}
    with holding(etl_lock(settings, engine), wait=True):
        for month in sorted(months):
            rebuild_month(engine, month)
