"""Top users by spend, earn or net over a range.

Per-user sums are added up from:
- a month's packed sums (core.user_months) when that is cheaper than its days (they are the
  sum of the month's materialized days), minus analytics_user_daily rows of the month's
  materialized days outside the range (usually none: a range ending today, or a whole month);
- analytics_user_daily for the materialized days of the other months;
- the ledger for every day of the range that is not materialized.

Ranking a year means adding up per-user sums of every month: hundreds of thousands of rows at
100k users, millions at a million, too many to fetch as rows (a GROUP BY over them took most of
a second at 100k users). A month is read as one packed value instead, the parts are added up
with numpy one at a time, and the sum over the stored part of the range is kept in the process
under the versions of what it was made of (core.analytics.cache); only the ledger's share
(today, unprocessed days) and the winners' names are read on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import user_months
from core.aggregates import ledger_sums
from core.analytics.cache import combined_version, database_key, day_user_sums, stored_totals
from core.analytics.days import read_range
from core.dates import month_end, month_start, next_month
from core.tables import analytics_user_daily, users, wallet_ledger
from core.user_months import EMPTY, UserSums

METRICS = ("spend", "earn", "net")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass
class _Plan:
    whole_months: list[date] = field(default_factory=list)
    added_days: list[date] = field(default_factory=list)
    subtracted_days: list[date] = field(default_factory=list)


def _plan(first: date, last: date, stored: frozenset[date], dirty: frozenset[date]) -> _Plan:
    """Per month touching [first, last]: read it whole and subtract its stored days outside the
    range or dirty, or add up its usable stored days inside, whichever reads fewer days."""
    plan = _Plan()
    month = month_start(first)
    while month <= last:
        end = month_end(month)
        of_month = sorted(day for day in stored if month <= day <= end)
        inside = [day for day in of_month if first <= day <= last and day not in dirty]
        outside = [day for day in of_month if not first <= day <= last or day in dirty]
        if len(outside) < len(inside):
            plan.whole_months.append(month)
            plan.subtracted_days += outside
        else:
            plan.added_days += inside
        month = next_month(month)
    return plan


def _day(conn: Connection, day: date, version: str) -> UserSums:
    cache_key = (database_key(conn), day)
    sums = day_user_sums.get(cache_key, version)
    if sums is None:
        d = analytics_user_daily.c
        sums = UserSums.of_rows(conn.execute(sa.select(d.user_id, d.credited, d.debited).where(d.date == day)))
        day_user_sums.put(cache_key, version, sums)
    return sums


def _stored_totals(conn: Connection, plan: _Plan, versions: dict[date, str]) -> UserSums:
    """Each user's sums over the plan's stored months and days, kept under their versions.

    The sum of the whole months but the last is kept on its own too: an ETL run usually stores
    days of the newest month only, so the first request after it reads one month, not a year."""
    in_date_order = sorted(versions.items())

    def month_version(month: date) -> str:
        return combined_version(v for day, v in in_date_order if month <= day <= month_end(month))

    database = database_key(conn)
    older, newest = plan.whole_months[:-1], plan.whole_months[-1:]
    older_key = (database, tuple(older), (), ())
    older_version = combined_version(month_version(month) for month in older)
    cache_key = (database, tuple(plan.whole_months), tuple(plan.added_days), tuple(plan.subtracted_days))
    version = combined_version([older_version, *(month_version(month) for month in newest),
                                *(versions[day] for day in (*plan.added_days, *plan.subtracted_days))])
    totals = stored_totals.get(cache_key, version)
    if totals is not None:
        return totals
    older_totals = stored_totals.get(older_key, older_version)
    if older_totals is None:
        older_totals = _signed_sum([(partial(user_months.read, conn, month), 1) for month in older])
        if len(older) > 1:
            stored_totals.put(older_key, older_version, older_totals)
    parts = [(lambda: older_totals, 1)]
    parts += [(partial(user_months.read, conn, month), 1) for month in newest]
    parts += [(partial(_day, conn, day, versions[day]), 1) for day in plan.added_days]
    parts += [(partial(_day, conn, day, versions[day]), -1) for day in plan.subtracted_days]
    totals = _signed_sum(parts)
    stored_totals.put(cache_key, version, totals)
    return totals


def _signed_sum(parts: list[tuple[Callable[[], UserSums], int]]) -> UserSums:
    """The parts' signed sum, reading one part at a time so only it and the running sum are in
    memory (a month is up to 24 MB at a million users). Ids index dense arrays while they are
    compact enough (the usual case: ids count up); the others are merged by sorting."""
    credited = np.zeros(0, dtype=np.int64)
    debited = np.zeros(0, dtype=np.int64)
    entries = 0
    outliers = EMPTY
    for read_part, sign in parts:
        sums = read_part()
        entries += len(sums.user_ids)
        wanted = int(sums.user_ids[sums.user_ids <= 4 * entries + 1_000_000].max(initial=-1)) + 1
        if wanted > len(credited):
            credited = np.concatenate([credited, np.zeros(wanted - len(credited), dtype=np.int64)])
            debited = np.concatenate([debited, np.zeros(wanted - len(debited), dtype=np.int64)])
        inside = sums.user_ids < len(credited)  # ids are ascending within a part and unique
        credited[sums.user_ids[inside]] += sign * sums.credited[inside]
        debited[sums.user_ids[inside]] += sign * sums.debited[inside]
        if not inside.all():
            outside = ~inside
            outliers = outliers.combined(
                UserSums(sums.user_ids[outside], sums.credited[outside], sums.debited[outside]), sign)
    active = np.flatnonzero((credited != 0) | (debited != 0))
    return UserSums(active, credited[active], debited[active]).combined(outliers, 1)


def _ranked(totals: UserSums, metric: str, limit: int) -> list[tuple[int, int]]:
    """(user id, value) of the first `limit` users by value descending, then user id."""
    credited, debited = totals.credited, totals.debited
    value = {"spend": debited, "earn": credited, "net": credited - debited}[metric]
    # Amounts are positive, so a user had activity in the range exactly when the volume is.
    listed = {"spend": debited, "earn": credited, "net": credited + debited}[metric] > 0
    candidates = np.flatnonzero(listed)
    if len(candidates) > limit:
        values = value[candidates]
        threshold = np.partition(values, len(values) - limit)[len(values) - limit]
        candidates = candidates[values >= threshold]  # ties at the threshold all stay in
    order = sorted(candidates.tolist(), key=lambda i: (-int(value[i]), int(totals.user_ids[i])))[:limit]
    return [(int(totals.user_ids[i]), int(value[i])) for i in order]


def _range_totals(conn: Connection, first: date, last: date, tz: ZoneInfo) -> UserSums:
    """Each user's sums over the range (users with none left out)."""
    # The months at both ends are needed whole, to know which of their days are stored (a
    # month's sums hold every stored day of it, dirty ones too).
    stored_range = read_range(conn, month_start(first), month_end(last), tz)
    versions = {day: stored_day.version for day, stored_day in stored_range.stored.items()}
    totals = _stored_totals(conn, _plan(first, last, frozenset(versions), stored_range.dirty), versions)
    live_bounds = stored_range.live_bounds(tz, first, last)
    if live_bounds:
        totals = totals.combined(UserSums.of_rows(ledger_sums(conn, live_bounds, wallet_ledger.c.user_id)), 1)
    return totals


def top_users(conn: Connection, first: date, last: date, tz: ZoneInfo, metric: str,
              limit: int = DEFAULT_LIMIT) -> dict:
    """Ordered by the metric descending, then user id. `spend` and `earn` list only users whose
    value is positive; `net` lists every user with activity in the range, negatives included."""
    ranked = _ranked(_range_totals(conn, first, last, tz), metric, limit)
    names = {}
    if ranked:
        names = {row.id: row for row in conn.execute(
            sa.select(users.c.id, users.c.username, users.c.email).where(users.c.id.in_([u for u, _ in ranked]))
        )}
    # A deleted user drops out of the list.
    return {"items": [
        {"user_id": user_id, "username": names[user_id].username, "email": names[user_id].email, metric: value}
        for user_id, value in ranked if user_id in names
    ]}
