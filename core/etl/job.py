"""One ETL run: take the lock, materialize each chosen day in its own transaction (folding in
its captured changes), clean up expired exports, and record and log the whole of it. A fold-in
is such a run whose days are chosen by the captured changes and the clock."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import TextIO

from sqlalchemy.engine import Engine

from core import changes, metrics
from core.config import Settings
from core.dates import days, iso_local, local_today, utc_now
from core.dialect import without_gap_locks
from core.errors import DomainError, describe_error
from core.etl import runs
from core.etl.lock import EtlLock, etl_lock, holding
from core.etl.log import EtlLog
from core.etl.plan import FoldPlan, exact_plan, fold_plan, nightly_dates
from core.materialize import materialize_day

log = logging.getLogger(__name__)

# The expired-export cleanup, its arguments bound; returns how many exports it expired.
Cleanup = Callable[[], int]
MAX_ERROR_CHARS = 1000


class EtlFailed(DomainError):
    pass


@dataclass
class EtlResult:
    run_id: int | None  # None: there was nothing to do, and nothing was recorded
    dates: list[date]
    expired_exports: int


@dataclass
class _Run:
    id: int
    step: str = ""  # what it is doing: a day, or the cleanup; named by the error if it fails
    done: int = 0


def run_etl(engine: Engine, settings: Settings, *, cleanup: Cleanup | None, trigger: str,
            dates: list[date] | None = None, wait: bool = False, out: TextIO | None = None,
            clock: Callable[[], datetime] = utc_now, poll_seconds: float = 1.0,
            queued_run: int | None = None, part_of: Mapping[date, datetime] | None = None) -> EtlResult:
    """Materialize `dates` (checked by plan.requested_dates), or with None the nightly choice,
    made once the lock is held, folding in their pending changes; then run `cleanup`, if any.
    With `queued_run` (the id of a run queued through the API, core.etl.runs) the dates are
    that record's, as they are once the lock is held: later requests may have joined it.
    `part_of` materializes some of the days only up to an instant (today, by `verify --repair`).

    Raises EtlAlreadyRunning if another run holds the lock (unless `wait`), EtlFailed if a day or the cleanup fails: the days done before it stay
    materialized, the failing one and its pending changes as they were.
    """
    tz = settings.report_timezone
    etl_log = EtlLog(out or sys.stdout, tz, clock)
    lock = etl_lock(settings, engine)
    waiting = partial(etl_log.line, "Another ETL run holds the lock; waiting for it to finish...")
    with holding(lock, wait=wait, poll_seconds=poll_seconds, on_wait=waiting):
        runs.fail_interrupted_runs(engine, clock())
        if queued_run is not None:
            claimed = runs.claim_queued_run(engine, queued_run)
            if claimed is None:  # taken already (a message delivered twice)
                return EtlResult(run_id=None, dates=[], expired_exports=0)
            dates = list(days(claimed.first_date, claimed.last_date))
        with engine.connect() as conn:
            if dates is None:
                dates = nightly_dates(conn, tz, settings.etl_lookback_days, local_today(tz, clock()))
            plan = exact_plan(conn, tz, dates, part_of)
        return _run(engine, settings, plan, lock, etl_log, cleanup, trigger, clock, queued_run)


def fold_in(engine: Engine, settings: Settings, *, out: TextIO | None = None,
            clock: Callable[[], datetime] = utc_now) -> EtlResult:
    """Fold the captured changes in: materialize again every stored day they made dirty, and
    today as far as it has settled (core.etl.plan.fold_plan). Changes that touch no stored part
    are dropped. Skipped (EtlAlreadyRunning) while another run holds the lock: that run and the
    next fold-in catch up. A fold-in with no day to materialize records no run."""
    tz = settings.report_timezone
    lock = etl_lock(settings, engine)
    with holding(lock, wait=False):
        runs.fail_interrupted_runs(engine, clock())
        with engine.connect() as conn:
            plan = fold_plan(conn, tz, clock())
        if plan.dropped:
            with without_gap_locks(engine).begin() as conn:
                changes.delete(conn, plan.dropped)
        if not plan.days:
            return EtlResult(run_id=None, dates=[], expired_exports=0)
        return _run(engine, settings, plan, lock, EtlLog(out or sys.stdout, tz, clock), None, runs.FOLD_IN, clock, None)


def _run(engine: Engine, settings: Settings, plan: FoldPlan, lock: EtlLock, etl_log: EtlLog,
         cleanup: Cleanup | None, trigger: str, clock: Callable[[], datetime], queued_run: int | None) -> EtlResult:
    """Record, log and materialize the plan's days, then run `cleanup` (with the lock held)."""
    run = _Run(runs.start_run(engine, trigger, plan.dates, clock(), queued_run))
    expired = 0
    started = time.perf_counter()
    try:
        _materialize(engine, settings, plan, lock, etl_log, run)
        if cleanup is not None:
            run.step = "expired-export cleanup"
            etl_log.line("Cleaning up expired exports...")
            expired = cleanup()
            etl_log.line(f"Cleaned up {expired} expired export(s)")
    except BaseException as error:
        etl_log.end_progress()
        message = f"{run.step}: {describe_error(error)}"[:MAX_ERROR_CHARS]
        runs.finish_run(engine, run.id, runs.FAILED, run.done, clock(), message)
        metrics.etl_run_finished(trigger, runs.FAILED, run.done, time.perf_counter() - started)
        etl_log.line(f"=== Analytics ETL Job Failed ({message}) ===")
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt, SystemExit: recorded, then let them stop the process
        log.exception("ETL run %s failed", run.id)
        raise EtlFailed(f"ETL run {run.id} failed at {message}") from error
    runs.finish_run(engine, run.id, runs.SUCCEEDED, run.done, clock())
    metrics.etl_run_finished(trigger, runs.SUCCEEDED, run.done, time.perf_counter() - started)
    etl_log.line("=== Analytics ETL Job Completed Successfully ===")
    log.info("ETL run %s (%s) succeeded: %d day(s)", run.id, trigger, run.done)
    return EtlResult(run_id=run.id, dates=plan.dates, expired_exports=expired)


def _materialize(engine: Engine, settings: Settings, plan: FoldPlan, lock: EtlLock, etl_log: EtlLog,
                 run: _Run) -> None:
    etl_log.line("=== Analytics ETL Job Started ===")
    dates = plan.dates
    if not dates:
        etl_log.line("No data to process (no ledger entries, or nothing before today left to materialize)")
    else:
        span = (dates[-1] - dates[0]).days + 1
        skipped = f" ({len(dates)} of its {span} dates; the others are materialized)" if span != len(dates) else ""
        etl_log.line(f"Processing date range: {dates[0]} to {dates[-1]}{skipped}")
    etl_log.start_progress()
    tz = settings.report_timezone
    for day in dates:
        run.step = day.isoformat()
        until = plan.days[day]
        part = "" if until is None else f" (so far: up to {iso_local(until, tz)})"
        etl_log.line(f"Processing date: {day}{part}")
        aggregates = materialize_day(engine, day, tz, covered_until=until, folded=plan.folded.get(day, []))
        etl_log.line(f"  - Processed {day}: credited={aggregates.credited}, debited={aggregates.debited}, "
                     f"active_users={len(aggregates.user_sums)}")
        run.done += 1
        runs.record_progress(engine, run.id, run.done)
        lock.renew()
        etl_log.progress(run.done, len(dates))
    etl_log.end_progress()
    etl_log.line(f"Total dates processed: {run.done}")
