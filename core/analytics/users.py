"""Top users by spend, earn or net over a range, ranked by the database in one query.

Per-user sums are added up from:
- analytics_user_monthly for a month when that is cheaper than its days (a monthly row is the
  sum of the month's materialized days), minus analytics_user_daily rows of the month's
  materialized days outside the range (usually none: a range ending today, or a whole month);
- analytics_user_daily for the materialized days of the other months;
- the ledger for every day of the range that is not materialized.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.aggregates import ledger_sums_query
from core.analytics.days import RangeSplit, split_range
from core.tables import (
    analytics_user_daily,
    analytics_user_monthly,
    users,
    wallet_ledger,
)

METRICS = ("spend", "earn", "net")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass
class _Plan:
    whole_months: list[date] = field(default_factory=list)
    added_days: list[date] = field(default_factory=list)
    subtracted_days: list[date] = field(default_factory=list)


def _plan(first: date, last: date, materialized: frozenset[date]) -> _Plan:
    """Per month touching [first, last]: read it whole and subtract the materialized days outside
    the range, or add up its materialized days inside, whichever reads fewer days."""
    plan = _Plan()
    month = first.replace(day=1)
    while month <= last:
        end = _month_end(month)
        of_month = sorted(day for day in materialized if month <= day <= end)
        inside = [day for day in of_month if first <= day <= last]
        outside = [day for day in of_month if not first <= day <= last]
        if len(outside) < len(inside):
            plan.whole_months.append(month)
            plan.subtracted_days += outside
        else:
            plan.added_days += inside
        month = end + timedelta(days=1)
    return plan


def _sums(user_id: sa.ColumnElement, credited: sa.ColumnElement, debited: sa.ColumnElement) -> sa.Select:
    return sa.select(user_id.label("user_id"), credited.label("credited"), debited.label("debited"))


def _signed(column: sa.ColumnElement) -> sa.ColumnElement:
    # Unsigned on MySQL: negating it would be out of range.
    return sa.cast(column, sa.BigInteger)


def _per_user_rows(split: RangeSplit, first: date, last: date, tz: ZoneInfo) -> list[sa.Select]:
    """Selects of (user_id, credited, debited) whose rows add up to each user's sums over the range."""
    plan = _plan(first, last, split.materialized)
    monthly, daily, ledger = analytics_user_monthly.c, analytics_user_daily.c, wallet_ledger.c
    parts = []
    if plan.whole_months:
        parts.append(_sums(monthly.user_id, _signed(monthly.credited), _signed(monthly.debited))
                     .where(monthly.month.in_(plan.whole_months)))
    if plan.added_days:
        parts.append(_sums(daily.user_id, _signed(daily.credited), _signed(daily.debited))
                     .where(daily.date.in_(plan.added_days)))
    if plan.subtracted_days:
        parts.append(_sums(daily.user_id, -_signed(daily.credited), -_signed(daily.debited))
                     .where(daily.date.in_(plan.subtracted_days)))
    live_bounds = split.live_bounds(tz, first, last)
    if live_bounds:
        parts.append(ledger_sums_query(live_bounds, ledger.user_id.label("user_id")))
    return parts


def top_users(conn: Connection, first: date, last: date, tz: ZoneInfo, metric: str,
              limit: int = DEFAULT_LIMIT) -> dict:
    """Ordered by the metric descending, then user id. `spend` and `earn` list only users whose
    value is positive; `net` lists every user with activity in the range, negatives included."""
    # The months at both ends are needed whole, to know which of their days are materialized.
    split = split_range(conn, first.replace(day=1), _month_end(last))
    parts = _per_user_rows(split, first, last, tz)
    sums = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("user_sums")
    credited, debited = sa.func.sum(sums.c.credited), sa.func.sum(sums.c.debited)
    value = {"spend": debited, "earn": credited, "net": credited - debited}[metric]
    # Amounts are positive, so a user had activity in the range exactly when the volume is.
    ranked_by = {"spend": debited, "earn": credited, "net": credited + debited}[metric]
    ranked = (
        sa.select(sums.c.user_id, value.label("value"))
        .group_by(sums.c.user_id)
        .having(ranked_by > 0)
        .order_by(value.desc(), sums.c.user_id)
        .limit(limit)
        .subquery("ranked")
    )
    # Only the ranked few are joined with users; a deleted user drops out of the list.
    query = (
        sa.select(ranked.c.user_id, users.c.username, users.c.email, ranked.c.value)
        .join(users, users.c.id == ranked.c.user_id)
        .order_by(ranked.c.value.desc(), ranked.c.user_id)
    )
    return {"items": [
        {"user_id": user_id, "username": username, "email": email, metric: int(total)}
        for user_id, username, email, total in conn.execute(query)
    ]}
