"""The analytics_etl_runs log: one row per run, written outside the days' own transactions."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from core.tables import analytics_etl_runs

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
INTERRUPTED = "interrupted: the process stopped before the run finished"
_runs = analytics_etl_runs.c


def start_run(engine: Engine, trigger: str, dates: list[date], now: datetime) -> int:
    with engine.begin() as conn:
        result = conn.execute(analytics_etl_runs.insert().values(
            trigger=trigger, status=RUNNING, first_date=min(dates, default=None),
            last_date=max(dates, default=None), dates_processed=0, started_at=now,
        ))
        return result.inserted_primary_key[0]


def record_progress(engine: Engine, run_id: int, dates_processed: int) -> None:
    with engine.begin() as conn:
        conn.execute(analytics_etl_runs.update().where(_runs.id == run_id).values(dates_processed=dates_processed))


def finish_run(engine: Engine, run_id: int, status: str, dates_processed: int, now: datetime,
               error_message: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(analytics_etl_runs.update().where(_runs.id == run_id).values(
            status=status, dates_processed=dates_processed, error_message=error_message, finished_at=now,
        ))


def fail_interrupted_runs(engine: Engine, now: datetime) -> None:
    """Runs still 'running' while we hold the ETL lock belong to a process that died."""
    with engine.begin() as conn:
        conn.execute(analytics_etl_runs.update().where(_runs.status == RUNNING).values(
            status=FAILED, error_message=INTERRUPTED, finished_at=now,
        ))


def last_run(conn: Connection, status: str | None = None) -> RowMapping | None:
    query = sa.select(analytics_etl_runs).order_by(_runs.started_at.desc(), _runs.id.desc()).limit(1)
    if status is not None:
        query = query.where(_runs.status == status)
    return conn.execute(query).mappings().first()
