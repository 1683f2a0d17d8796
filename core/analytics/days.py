"""Which days of a range are answered from the stored aggregates, and which parts of the range
from the base tables.

A day is stored when the ETL has written its analytics_token_daily row (core.materialize writes
all of a day's tables in that row's transaction), covering the whole day or, for today, its part
before `covered_until`. A stored day is used only while no captured change touches that part
(core.changes: it is *dirty* until the next fold-in). Everything else (dirty days, the rest of
today, days never processed, gaps, future days) is answered from the base tables, so every answer
equals the base tables as they are when the request reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import changes
from core.aggregates import Bounds, money
from core.dates import day_bounds
from core.tables import analytics_daily_users, analytics_token_daily

ONE_DAY = timedelta(days=1)
_day = analytics_token_daily.c


@dataclass(frozen=True)
class StoredDay:
    credited: int
    debited: int
    revenue_in_inr: Decimal
    version: str
    # None: the figures cover the whole day; else its part before this instant (naive UTC).
    covered_until: datetime | None


@dataclass(frozen=True)
class StoredRange:
    first: date
    last: date
    stored: dict[date, StoredDay]
    dirty: frozenset[date]

    @property
    def usable(self) -> dict[date, StoredDay]:
        """The stored days whose figures are current."""
        return {day: stored for day, stored in self.stored.items() if day not in self.dirty}

    @property
    def versions(self) -> dict[date, str]:
        """Versions of the usable days (see core.analytics.cache)."""
        return {day: stored.version for day, stored in self.usable.items()}

    def live_bounds(self, tz: ZoneInfo, first: date | None = None, last: date | None = None) -> Bounds:
        """UTC intervals of [first, last] (within the range) that the stored figures do not
        answer, for index range scans of the base tables."""
        first = max(first or self.first, self.first)
        last = min(last or self.last, self.last)
        usable = self.usable
        intervals: list[tuple[datetime, datetime]] = []
        run_start = None
        day = first
        while day <= last:
            if day in usable:
                if run_start is not None:
                    intervals.append(day_bounds(run_start, day - ONE_DAY, tz))
                    run_start = None
                covered_until = usable[day].covered_until
                if covered_until is not None:
                    intervals.append((covered_until, day_bounds(day, day, tz)[1]))
            elif run_start is None:
                run_start = day
            day += ONE_DAY
        if run_start is not None:
            intervals.append(day_bounds(run_start, last, tz))
        return _merged(sorted(intervals))


def _merged(intervals: list[tuple[datetime, datetime]]) -> Bounds:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        if start >= end:
            continue
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def read_range(conn: Connection, first: date, last: date, tz: ZoneInfo) -> StoredRange:
    """The stored days of [first, last] with their figures and versions, and which are dirty."""
    rows = conn.execute(
        sa.select(_day.date, _day.credited, _day.debited, _day.revenue_in_inr, analytics_daily_users.c.version,
                  _day.covered_until)
        .join(analytics_daily_users, analytics_daily_users.c.date == _day.date)
        .where(_day.date >= first, _day.date <= last)
        .order_by(_day.date)
    )
    stored = {day: StoredDay(int(credited), int(debited), money(revenue), version, covered_until)
              for day, credited, debited, revenue, version, covered_until in rows}
    dirty: frozenset[date] = frozenset()
    if stored:
        covered_until = {day: stored_day.covered_until for day, stored_day in stored.items()}
        dirty = frozenset(changes.dirty_days(changes.pending_minutes(conn, first, last, tz), covered_until, tz))
    return StoredRange(first, last, stored, dirty)
