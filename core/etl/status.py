"""How far the materialized data reaches, how fresh it is, and how the ETL runs went, for the
admin status route. Plain data: the web layer renders it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import changes
from core.dates import days, to_local_date
from core.etl import runs
from core.etl.lock import EtlLock
from core.etl.plan import earliest_ledger_day, materialized_days
from core.tables import analytics_changes, analytics_token_daily


@dataclass(frozen=True)
class EtlStatus:
    earliest_ledger_day: date | None
    # The latest D such that every day from the earliest ledger day to D is materialized.
    materialized_through: date | None
    latest_materialized_day: date | None
    # Days from the earliest ledger day to yesterday that are not materialized.
    missing_days: int
    # Stored days that captured changes have made dirty (answered from the base tables until
    # the next fold-in), and the captured changes not folded in yet.
    pending_days: list[date]
    pending_changes: int
    oldest_pending_change_at: datetime | None
    last_run: runs.EtlRun | None
    last_success: runs.EtlRun | None
    last_fold_in: runs.EtlRun | None


def etl_status(engine: Engine, tz: ZoneInfo, now: datetime, lock: EtlLock | None = None) -> EtlStatus:
    """With the ETL `lock`, a run recorded `running` while nobody holds it is told as the
    interrupted run it is (the next run records it so)."""
    today = to_local_date(now, tz)
    with engine.connect() as conn:
        earliest = earliest_ledger_day(conn, tz)
        latest = conn.execute(sa.select(sa.func.max(analytics_token_daily.c.date))).scalar()
        yesterday = today - timedelta(days=1)
        through, missing = None, 0
        if earliest is not None and earliest <= yesterday:
            done = materialized_days(conn, earliest, yesterday)
            pending = [day for day in days(earliest, yesterday) if day not in done]
            missing = len(pending)
            first_missing = pending[0] if pending else today
            through = first_missing - timedelta(days=1) if first_missing > earliest else None
        backlog = changes.backlog(conn)
        return EtlStatus(
            earliest_ledger_day=earliest, materialized_through=through, latest_materialized_day=latest,
            missing_days=missing, pending_days=_dirty_days(conn, tz) if backlog.changes else [],
            pending_changes=backlog.changes, oldest_pending_change_at=backlog.oldest_changed_at,
            last_run=_alive_or_interrupted(runs.last_run(conn), lock), last_success=runs.last_run(conn, runs.SUCCEEDED),
            last_fold_in=runs.last_run(conn, runs.SUCCEEDED, runs.FOLD_IN),
        )


def _alive_or_interrupted(run: runs.EtlRun | None, lock: EtlLock | None) -> runs.EtlRun | None:
    if run is None or run.status != runs.RUNNING or lock is None or lock.is_held():
        return run
    return replace(run, status=runs.FAILED, error_message=runs.INTERRUPTED)


def _dirty_days(conn, tz: ZoneInfo) -> list[date]:
    minutes = set(conn.execute(sa.select(analytics_changes.c.minute).distinct()).scalars())
    touched = {to_local_date(changes.minute_start(minute), tz) for minute in minutes}
    daily = analytics_token_daily.c
    covered_until = dict(conn.execute(
        sa.select(daily.date, daily.covered_until).where(daily.date.in_(sorted(touched)))).all())
    return sorted(changes.dirty_days(minutes, covered_until, tz))
