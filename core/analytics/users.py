"""Top users by spend, earn or net over a range.

Per-user sums are added up from:
- analytics_user_monthly for a month when that is cheaper than its days (a monthly row is the
  sum of the month's materialized days), minus analytics_user_daily rows of the month's
  materialized days outside the range (usually none: a range ending today, or a whole month);
- analytics_user_daily for the materialized days of the other months;
- the ledger for every day of the range that is not materialized.

Ranking a year means adding up hundreds of thousands of per-user rows: a GROUP BY over them
took most of a second at 100k users. Here the monthly and daily sums are kept in the process
under their versions (core.analytics.cache), added up with numpy and ranked there; only the
ledger's share (today, unprocessed days) and the winners' names are read on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.aggregates import ledger_sums
from core.analytics.cache import combined_version, database_key, user_sums
from core.analytics.days import read_range
from core.dates import month_end, month_start, next_month
from core.tables import (
    analytics_user_daily,
    analytics_user_monthly,
    users,
    wallet_ledger,
)

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


@dataclass(frozen=True)
class _Sums:
    """Per-user sums, one entry per user."""

    user_ids: np.ndarray
    credited: np.ndarray
    debited: np.ndarray

    @classmethod
    def of_rows(cls, rows) -> _Sums:
        table = np.array([tuple(row) for row in rows], dtype=np.int64).reshape(-1, 3)
        return cls(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())


def _stored(conn: Connection, kind: str, key: date, version: str, query: sa.Select) -> _Sums:
    cache_key = (database_key(conn), kind, key)
    sums = user_sums.get(cache_key, version)
    if sums is None:
        sums = _Sums.of_rows(conn.execute(query))
        user_sums.put(cache_key, version, sums)
    return sums


def _month(conn: Connection, month: date, versions: dict[date, str]) -> _Sums:
    m = analytics_user_monthly.c
    version = combined_version(v for day, v in versions.items() if month <= day <= month_end(month))
    return _stored(conn, "month", month, version,
                   sa.select(m.user_id, m.credited, m.debited).where(m.month == month))


def _day(conn: Connection, day: date, version: str) -> _Sums:
    d = analytics_user_daily.c
    return _stored(conn, "day", day, version, sa.select(d.user_id, d.credited, d.debited).where(d.date == day))


def _parts(conn: Connection, first: date, last: date, tz: ZoneInfo) -> list[tuple[_Sums, int]]:
    """(per-user sums, +1 or -1) whose signed total is each user's sums over the range."""
    # The months at both ends are needed whole, to know which of their days are stored (a
    # month's sums hold every stored day of it, dirty ones too).
    stored_range = read_range(conn, month_start(first), month_end(last), tz)
    versions = {day: stored_day.version for day, stored_day in stored_range.stored.items()}
    plan = _plan(first, last, frozenset(versions), stored_range.dirty)
    parts = [(_month(conn, month, versions), 1) for month in plan.whole_months]
    parts += [(_day(conn, day, versions[day]), 1) for day in plan.added_days]
    parts += [(_day(conn, day, versions[day]), -1) for day in plan.subtracted_days]
    live_bounds = stored_range.live_bounds(tz, first, last)
    if live_bounds:
        parts.append((_Sums.of_rows(ledger_sums(conn, live_bounds, wallet_ledger.c.user_id)), 1))
    return [(sums, sign) for sums, sign in parts if len(sums.user_ids)]


def _totals(parts: list[tuple[_Sums, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, credited, debited) over every user of the parts. Ids index a dense array when
    they are compact enough (the usual case), else they are matched up by sorting."""
    count = sum(len(sums.user_ids) for sums, _ in parts)
    highest = max(int(sums.user_ids.max()) for sums, _ in parts)
    if highest <= 4 * count + 1_000_000:
        credited = np.zeros(highest + 1, dtype=np.int64)
        debited = np.zeros(highest + 1, dtype=np.int64)
        for sums, sign in parts:  # ids are unique within a part
            credited[sums.user_ids] += sign * sums.credited
            debited[sums.user_ids] += sign * sums.debited
        return np.arange(highest + 1, dtype=np.int64), credited, debited
    user_ids, position = np.unique(np.concatenate([sums.user_ids for sums, _ in parts]), return_inverse=True)
    credited = np.zeros(len(user_ids), dtype=np.int64)
    debited = np.zeros(len(user_ids), dtype=np.int64)
    np.add.at(credited, position, np.concatenate([sign * sums.credited for sums, sign in parts]))
    np.add.at(debited, position, np.concatenate([sign * sums.debited for sums, sign in parts]))
    return user_ids, credited, debited


def _ranked(parts: list[tuple[_Sums, int]], metric: str, limit: int) -> list[tuple[int, int]]:
    """(user id, value) of the first `limit` users by value descending, then user id."""
    if not parts:
        return []
    user_ids, credited, debited = _totals(parts)
    value = {"spend": debited, "earn": credited, "net": credited - debited}[metric]
    # Amounts are positive, so a user had activity in the range exactly when the volume is.
    listed = {"spend": debited, "earn": credited, "net": credited + debited}[metric] > 0
    candidates = np.flatnonzero(listed)
    if len(candidates) > limit:
        values = value[candidates]
        threshold = np.partition(values, len(values) - limit)[len(values) - limit]
        candidates = candidates[values >= threshold]  # ties at the threshold all stay in
    order = sorted(candidates.tolist(), key=lambda i: (-int(value[i]), int(user_ids[i])))[:limit]
    return [(int(user_ids[i]), int(value[i])) for i in order]


def top_users(conn: Connection, first: date, last: date, tz: ZoneInfo, metric: str,
              limit: int = DEFAULT_LIMIT) -> dict:
    """Ordered by the metric descending, then user id. `spend` and `earn` list only users whose
    value is positive; `net` lists every user with activity in the range, negatives included."""
    ranked = _ranked(_parts(conn, first, last, tz), metric, limit)
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
