"""Top users by spend, earn or net over a range, in one query.

Per-user sums come from three disjoint sources, added up and ranked by the database:
analytics_user_monthly for calendar months wholly inside the range (a monthly row is the sum of
the month's materialized days), analytics_user_daily for materialized days of the partial
months at either end, and the ledger for every day that is not materialized.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.aggregates import within
from core.analytics.days import split_range
from core.tables import analytics_token_daily, analytics_user_daily, analytics_user_monthly, users, wallet_ledger

METRICS = ("spend", "earn", "net")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _month_cover(first: date, last: date) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The 1sts of the first and last months wholly inside [first, last] (None if there are none),
    and the stretches of the range outside those months."""
    full_first = first if first.day == 1 else _month_end(first) + timedelta(days=1)
    full_end = last if _month_end(last) == last else last.replace(day=1) - timedelta(days=1)
    if full_first > full_end:
        return None, [(first, last)]
    stretches = []
    if first < full_first:
        stretches.append((first, full_first - timedelta(days=1)))
    if full_end < last:
        stretches.append((full_end + timedelta(days=1), last))
    return (full_first, full_end.replace(day=1)), stretches


def _per_user_sums(conn: Connection, first: date, last: date, tz: ZoneInfo) -> sa.Subquery:
    """(user_id, credited, debited) rows, several per user, covering every day of the range once."""
    months, stretches = _month_cover(first, last)
    monthly, daily, ledger = analytics_user_monthly.c, analytics_user_daily.c, wallet_ledger.c
    parts = []
    if months:
        parts.append(
            sa.select(monthly.user_id, monthly.credited, monthly.debited)
            .where(monthly.month >= months[0], monthly.month <= months[1])
        )
    if stretches:
        parts.append(
            sa.select(daily.user_id, daily.credited, daily.debited)
            .join(analytics_token_daily, analytics_token_daily.c.date == daily.date)
            .where(sa.or_(*(sa.and_(daily.date >= a, daily.date <= b) for a, b in stretches)))
        )
    live_bounds = split_range(conn, first, last).live_bounds(tz)
    if live_bounds:
        parts.append(
            sa.select(
                ledger.user_id,
                sa.func.sum(sa.case((ledger.direction == "credit", ledger.amount), else_=0)).label("credited"),
                sa.func.sum(sa.case((ledger.direction == "debit", ledger.amount), else_=0)).label("debited"),
            )
            .where(within(ledger.occurred_at, live_bounds))
            .group_by(ledger.user_id)
        )
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("user_sums")


def top_users(conn: Connection, first: date, last: date, tz: ZoneInfo, metric: str,
              limit: int = DEFAULT_LIMIT) -> dict:
    """Ordered by the metric descending, then user id. `spend` and `earn` list only users whose
    value is positive; `net` lists every user with activity in the range, negatives included."""
    sums = _per_user_sums(conn, first, last, tz)
    credited, debited = sa.func.sum(sums.c.credited), sa.func.sum(sums.c.debited)
    value = {"spend": debited, "earn": credited, "net": credited - debited}[metric]
    query = (
        sa.select(sums.c.user_id, users.c.username, users.c.email, value.label("value"))
        .join(users, users.c.id == sums.c.user_id)
        .group_by(sums.c.user_id, users.c.username, users.c.email)
        .order_by(value.desc(), sums.c.user_id)
        .limit(limit)
    )
    if metric != "net":
        query = query.having(value > 0)
    return {"items": [
        {"user_id": user_id, "username": username, "email": email, metric: int(total)}
        for user_id, username, email, total in conn.execute(query)
    ]}
