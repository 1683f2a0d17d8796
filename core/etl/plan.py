"""Which local days an ETL run materializes, and up to when.

A day is materialized when it has an analytics_token_daily row. Every run first folds in the
captured changes (core.changes): each stored day that a pending change makes dirty is
materialized again, and today is materialized as it goes, up to its last closed quarter hour
(`covered_until`) once the quarter has settled. A day that has ended is materialized whole;
later days never are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import changes
from core.dates import day_bounds, days, to_local_date
from core.errors import BusinessRuleViolation
from core.tables import analytics_token_daily, wallet_ledger

# Today's stored part grows a quarter hour at a time: every zone's offset is a whole number of
# quarter hours, so a quarter never straddles local midnight.
TODAY_STEP = timedelta(minutes=15)
# A quarter is folded in this long after it closed, so that the writes dated in it (a wallet's
# transaction commits a moment after it reads the clock) are mostly in already; a later one
# only makes the day dirty again, never wrong.
SETTLE = timedelta(seconds=30)
EPOCH = datetime(1970, 1, 1)


def earliest_ledger_day(conn: Connection, tz: ZoneInfo) -> date | None:
    first = conn.execute(sa.select(sa.func.min(wallet_ledger.c.occurred_at))).scalar()
    return None if first is None else to_local_date(first, tz)


def materialized_days(conn: Connection, first: date, last: date) -> set[date]:
    daily = analytics_token_daily.c
    return set(conn.execute(sa.select(daily.date).where(daily.date >= first, daily.date <= last)).scalars())


def nightly_dates(conn: Connection, tz: ZoneInfo, lookback_days: int, today: date) -> list[date]:
    """Every day from the earliest ledger entry's to yesterday that is not materialized (gaps
    included), plus the last `lookback_days` days again for rows that arrived late."""
    earliest = earliest_ledger_day(conn, tz)
    yesterday = today - timedelta(days=1)
    if earliest is None or earliest > yesterday:
        return []
    done = materialized_days(conn, earliest, yesterday)
    lookback_start = today - timedelta(days=lookback_days)
    return [day for day in days(earliest, yesterday) if day not in done or day >= lookback_start]


def requested_dates(first: date, last: date, today: date, tz: ZoneInfo) -> list[date]:
    """Exactly first..last, materialized or not; refused whole if it reaches today or later."""
    if first > last:
        raise BusinessRuleViolation(f"the range starts ({first}) after it ends ({last}); swap them")
    if last >= today:
        when = "today" if last == today else "in the future"
        raise BusinessRuleViolation(
            f"{last} is {when} in {tz.key}: a day is materialized only once it has ended; "
            f"the latest date allowed is {today - timedelta(days=1)}"
        )
    return list(days(first, last))


def covered_until(day: date, tz: ZoneInfo, now: datetime) -> datetime | None:
    """How much of `day` may be materialized at `now`: None for all of it (it has ended and
    settled), else the start of its quarter hour still open or settling."""
    start, end = day_bounds(day, day, tz)
    settled = now - SETTLE
    if settled >= end:
        return None
    closed = EPOCH + (settled - EPOCH) // TODAY_STEP * TODAY_STEP
    return max(closed, start)


@dataclass
class FoldPlan:
    """What one run materializes (each day with the instant it is covered until, None for the
    whole day, and the pending changes its transaction folds in), and the pending changes that
    touch no stored part (answered from the base tables anyway), deleted without work."""

    days: dict[date, datetime | None] = field(default_factory=dict)
    folded: dict[date, list[changes.Change]] = field(default_factory=dict)
    dropped: list[changes.Change] = field(default_factory=list)

    @property
    def dates(self) -> list[date]:
        return sorted(self.days)


def exact_plan(conn: Connection, tz: ZoneInfo, dates: list[date],
               partial: Mapping[date, datetime] | None = None) -> FoldPlan:
    """Exactly `dates`, each folding in its pending changes: whole, or up to the instant
    `partial` gives for it (today)."""
    pending = changes.by_day(changes.pending(conn), tz)
    partial = partial or {}
    return FoldPlan(days={day: partial.get(day) for day in dates},
                    folded={day: pending[day] for day in dates if day in pending})


def fold_plan(conn: Connection, tz: ZoneInfo, now: datetime) -> FoldPlan:
    """Every stored day that pending changes made dirty, today (from its start) and every
    partial day whose stored part can grow."""
    today = to_local_date(now, tz)
    pending = changes.by_day(changes.pending(conn), tz)
    daily = analytics_token_daily.c
    stored = dict(conn.execute(
        sa.select(daily.date, daily.covered_until)
        .where(sa.or_(daily.date.in_(sorted(pending)), daily.covered_until.is_not(None)))
    ).all())
    plan = FoldPlan()
    for day in changes.dirty_days((change.minute for day_changes in pending.values() for change in day_changes),
                                  stored, tz):
        plan.days.setdefault(day, covered_until(day, tz, now))
    for day, until in stored.items():
        target = covered_until(day, tz, now)
        if until is not None and (target is None or target > until):
            plan.days.setdefault(day, target)
    if today not in stored:
        plan.days.setdefault(today, covered_until(today, tz, now))
    for day, day_changes in pending.items():
        if day in plan.days:
            plan.folded[day] = day_changes
        else:
            plan.dropped += day_changes
    return plan


def partial_days_of(conn: Connection, days: Iterable[date]) -> dict[date, datetime]:
    """Those of `days` stored in part (today), with the instant they are covered until."""
    daily = analytics_token_daily.c
    return dict(conn.execute(sa.select(daily.date, daily.covered_until)
                             .where(daily.date.in_(sorted(days)), daily.covered_until.is_not(None))).all())
