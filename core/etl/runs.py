"""The analytics_etl_runs log: one row per run, written outside the days' own transactions.

A run asked for through the API is recorded `queued` first; a second request while it still
waits joins it (its range grows to cover both) instead of queueing another. The worker that
takes it marks it `running`, and from then on it is recorded like any other run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.tables import analytics_etl_runs

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
INTERRUPTED = "interrupted: the process stopped before the run finished"
FOLD_IN = "fold-in"  # the trigger of the runs that fold captured changes in
_runs = analytics_etl_runs.c


@dataclass(frozen=True)
class EtlRun:
    id: int
    trigger: str
    status: str
    first_date: date | None
    last_date: date | None
    dates_processed: int
    error_message: str | None
    queued_at: datetime | None
    started_at: datetime | None  # None while queued
    finished_at: datetime | None

    @classmethod
    def of_row(cls, row) -> EtlRun:
        return cls(id=row.id, trigger=row.trigger, status=row.status, first_date=row.first_date,
                   last_date=row.last_date, dates_processed=row.dates_processed, error_message=row.error_message,
                   queued_at=row.queued_at, started_at=None if row.status == QUEUED else row.started_at,
                   finished_at=row.finished_at)


def start_run(engine: Engine, trigger: str, dates: list[date], now: datetime, queued_run: int | None = None) -> int:
    values = {"status": RUNNING, "first_date": min(dates, default=None), "last_date": max(dates, default=None),
              "dates_processed": 0, "started_at": now}
    with engine.begin() as conn:
        if queued_run is not None:
            conn.execute(analytics_etl_runs.update().where(_runs.id == queued_run).values(**values))
            return queued_run
        return conn.execute(analytics_etl_runs.insert().values(trigger=trigger, **values)).inserted_primary_key[0]


def queue_run(engine: Engine, trigger: str, first: date, last: date, now: datetime) -> tuple[int, bool]:
    """The id of the queued run that will materialize first..last, and whether it was already
    queued (joined) rather than recorded now (a new one must then be sent to a worker)."""
    with engine.begin() as conn:
        waiting = conn.execute(
            sa.select(_runs.id, _runs.first_date, _runs.last_date).where(_runs.status == QUEUED)
            .order_by(_runs.id).limit(1).with_for_update()
        ).first()
        if waiting is not None:
            conn.execute(analytics_etl_runs.update().where(_runs.id == waiting.id).values(
                first_date=min(first, waiting.first_date), last_date=max(last, waiting.last_date)))
            return waiting.id, True
        result = conn.execute(analytics_etl_runs.insert().values(
            trigger=trigger, status=QUEUED, first_date=first, last_date=last, dates_processed=0,
            started_at=now, queued_at=now,
        ))
        return result.inserted_primary_key[0], False


def claim_queued_run(engine: Engine, run_id: int) -> EtlRun | None:
    """Take a queued run for this worker (no request can join it after this); None if it is
    not queued (already taken, e.g. a message delivered twice)."""
    with engine.begin() as conn:
        taken = conn.execute(analytics_etl_runs.update().where(_runs.id == run_id, _runs.status == QUEUED)
                             .values(status=RUNNING)).rowcount
        return get_run(conn, run_id) if taken else None


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


def last_run(conn: Connection, status: str | None = None, trigger: str | None = None) -> EtlRun | None:
    query = sa.select(analytics_etl_runs).order_by(_runs.started_at.desc(), _runs.id.desc()).limit(1)
    if status is not None:
        query = query.where(_runs.status == status)
    if trigger is not None:
        query = query.where(_runs.trigger == trigger)
    row = conn.execute(query).first()
    return None if row is None else EtlRun.of_row(row)


def get_run(conn: Connection, run_id: int) -> EtlRun | None:
    row = conn.execute(sa.select(analytics_etl_runs).where(_runs.id == run_id)).first()
    return None if row is None else EtlRun.of_row(row)


def list_runs(conn: Connection, limit: int, before_id: int | None = None) -> list[EtlRun]:
    """Newest first (by id: runs are recorded in the order they were asked for)."""
    query = sa.select(analytics_etl_runs).order_by(_runs.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(_runs.id < before_id)
    return [EtlRun.of_row(row) for row in conn.execute(query)]
