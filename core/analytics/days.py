"""Which days of a range are materialized, and the live stretches in between.

A day is materialized when the ETL has stored its analytics_token_daily row (core.materialize
writes all of a day's tables in that row's transaction). Every other day of a range (today,
days never processed, gaps, future days) is answered from the base tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.aggregates import Bounds
from core.dates import day_bounds
from core.tables import analytics_token_daily

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class RangeSplit:
    first: date
    last: date
    materialized: frozenset[date]

    def live_runs(self, first: date | None = None, last: date | None = None) -> list[tuple[date, date]]:
        """Maximal stretches of consecutive non-materialized days within [first, last] of the range."""
        first = max(first or self.first, self.first)
        last = min(last or self.last, self.last)
        runs: list[tuple[date, date]] = []
        run_start = None
        day = first
        while day <= last:
            if day in self.materialized:
                if run_start is not None:
                    runs.append((run_start, day - ONE_DAY))
                    run_start = None
            elif run_start is None:
                run_start = day
            day += ONE_DAY
        if run_start is not None:
            runs.append((run_start, last))
        return runs

    def live_bounds(self, tz: ZoneInfo, first: date | None = None, last: date | None = None) -> Bounds:
        """UTC intervals of the live stretches, for index range scans of the base tables."""
        return [day_bounds(run_first, run_last, tz) for run_first, run_last in self.live_runs(first, last)]


def split_range(conn: Connection, first: date, last: date) -> RangeSplit:
    daily = analytics_token_daily.c
    dates = conn.execute(sa.select(daily.date).where(daily.date >= first, daily.date <= last)).scalars()
    return RangeSplit(first, last, frozenset(dates))


def split_from_dates(first: date, last: date, materialized: Iterable[date]) -> RangeSplit:
    return RangeSplit(first, last, frozenset(materialized))
