"""One ETL run: take the lock, materialize each chosen day in its own transaction, clean up
expired exports, and record and log the whole of it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import TextIO

from sqlalchemy.engine import Engine

from core.config import Settings
from core.dates import local_today, utc_now
from core.errors import DomainError
from core.etl import runs
from core.etl.lock import EtlLock, etl_lock, holding
from core.etl.log import EtlLog
from core.etl.plan import nightly_dates
from core.materialize import materialize_day

log = logging.getLogger(__name__)

# The expired-export cleanup, its arguments bound; returns how many exports it expired.
Cleanup = Callable[[], int]
MAX_ERROR_CHARS = 1000


class EtlFailed(DomainError):
    pass


@dataclass
class EtlResult:
    run_id: int
    dates: list[date]
    expired_exports: int


@dataclass
class _Run:
    id: int
    step: str = ""  # what it is doing: a day, or the cleanup; named by the error if it fails
    done: int = 0


def run_etl(engine: Engine, settings: Settings, *, cleanup: Cleanup, trigger: str,
            dates: list[date] | None = None, wait: bool = False, out: TextIO | None = None,
            clock: Callable[[], datetime] = utc_now, poll_seconds: float = 1.0) -> EtlResult:
    """Materialize `dates` (checked by plan.requested_dates), or with None the nightly choice,
    made once the lock is held; then run `cleanup`.

    Raises EtlAlreadyRunning if another run holds the lock (unless `wait`), EtlFailed if a day or
    the cleanup fails: the days done before it stay materialized, the failing one as it was.
    """
    tz = settings.report_timezone
    etl_log = EtlLog(out or sys.stdout, tz, clock)
    lock = etl_lock(settings, engine)
    waiting = partial(etl_log.line, "Another ETL run holds the lock; waiting for it to finish...")
    with holding(lock, wait=wait, poll_seconds=poll_seconds, on_wait=waiting):
        runs.fail_interrupted_runs(engine, clock())
        etl_log.line("=== Analytics ETL Job Started ===")
        if dates is None:
            with engine.connect() as conn:
                dates = nightly_dates(conn, tz, settings.etl_lookback_days, local_today(tz, clock()))
        run = _Run(runs.start_run(engine, trigger, dates, clock()))
        try:
            _materialize(engine, settings, dates, lock, etl_log, run)
            run.step = "expired-export cleanup"
            etl_log.line("Cleaning up expired exports...")
            expired = cleanup()
            etl_log.line(f"Cleaned up {expired} expired export(s)")
        except BaseException as error:
            etl_log.end_progress()
            message = f"{run.step}: {type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
            runs.finish_run(engine, run.id, runs.FAILED, run.done, clock(), message)
            etl_log.line(f"=== Analytics ETL Job Failed ({message}) ===")
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt, SystemExit: recorded, then let them stop the process
            log.exception("ETL run %s failed", run.id)
            raise EtlFailed(f"ETL run {run.id} failed at {message}") from error
        runs.finish_run(engine, run.id, runs.SUCCEEDED, run.done, clock())
        etl_log.line("=== Analytics ETL Job Completed Successfully ===")
    return EtlResult(run_id=run.id, dates=dates, expired_exports=expired)


def _materialize(engine: Engine, settings: Settings, dates: list[date], lock: EtlLock, etl_log: EtlLog,
                 run: _Run) -> None:
    if not dates:
        etl_log.line("No data to process (no ledger entries, or nothing before today left to materialize)")
    else:
        span = (dates[-1] - dates[0]).days + 1
        skipped = f" ({len(dates)} of its {span} dates; the others are materialized)" if span != len(dates) else ""
        etl_log.line(f"Processing date range: {dates[0]} to {dates[-1]}{skipped}")
    etl_log.start_progress()
    for day in dates:
        run.step = day.isoformat()
        etl_log.line(f"Processing date: {day}")
        aggregates = materialize_day(engine, day, settings.report_timezone)
        etl_log.line(f"  - Processed {day}: credited={aggregates.credited}, debited={aggregates.debited}, "
                     f"active_users={len(aggregates.user_sums)}")
        run.done += 1
        runs.record_progress(engine, run.id, run.done)
        lock.renew()
        etl_log.progress(run.done, len(dates))
    etl_log.end_progress()
    etl_log.line(f"Total dates processed: {run.done}")
