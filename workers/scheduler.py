"""The scheduler process: enqueues the nightly ETL (which ends with the expired-export cleanup)
at 03:00 REPORT_TIMEZONE, with APScheduler's cron trigger; runs the export janitor every few
minutes, so that no export stays `preparing` without a live job (core/exports/state.py) and
every webhook event is queued (those of expiry by time, and any whose message was lost); and
sends a fold-in of the captured changes every FOLD_INTERVAL_SECONDS (one message per interval
however many rows changed: a burst is folded in by one run).

Two schedulers started by mistake must not enqueue the night twice: before sending, each claims
the night's slot, a Redis key set only if absent (SET NX EX); the one that loses sends nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from zoneinfo import ZoneInfo

import redis
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.config import Settings
from core.dates import local_today, utc_now
from core.redis_client import redis_client
from workers.enqueue import export_enqueuer, webhook_enqueuer
from workers.jobs import FOLD_CHANGES, NIGHTLY_ETL, clean_up_exports

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID = "nightly-etl"
CLEANUP_JOB_ID = "exports-cleanup"
FOLD_JOB_ID = "fold-in"
# Well inside EXPORT_REQUEUE_MINUTES (5) and EXPORT_STUCK_MINUTES (15): a lost export is queued
# again, or a stuck one failed, within a few minutes of the rule applying.
CLEANUP_EVERY_MINUTES = 2
NIGHTLY_HOUR = 3
SLOT_KEY = "wallet-analytics:scheduler:nightly-etl:{day}"
# Outlives the night it stands for, so a late second scheduler still finds it.
SLOT_TTL_SECONDS = 36 * 3600
# A fire delayed (a busy or suspended process) still enqueues the night within this time.
MISFIRE_GRACE_SECONDS = 6 * 3600


def nightly_trigger(tz: ZoneInfo) -> CronTrigger:
    return CronTrigger(hour=NIGHTLY_HOUR, minute=0, timezone=tz)


class NightlyEnqueuer:
    """Sends the nightly ETL message once per local day, however many schedulers fire."""

    def __init__(self, send: Callable[[], object], tz: ZoneInfo, slots: redis.Redis | None,
                 clock=utc_now):
        self._send = send
        self._tz = tz
        self._slots = slots
        self._clock = clock

    def __call__(self) -> bool:
        day = local_today(self._tz, self._clock())
        key = SLOT_KEY.format(day=day)
        owner = f"{socket.gethostname()}:{os.getpid()}"
        if self._slots is not None and not self._slots.set(key, owner, nx=True, ex=SLOT_TTL_SECONDS):
            log.warning("nightly ETL of %s already enqueued by another scheduler (%s); not again",
                        day, self._slots.get(key))
            return False
        try:
            self._send()
        except Exception:
            if self._slots is not None:
                self._slots.delete(key)  # let another scheduler (or a restart) enqueue it
            raise
        log.info("enqueued the nightly ETL of %s", day)
        return True


def build_scheduler(tz: ZoneInfo, enqueue: Callable[[], object], clean_up: Callable[[], object],
                    enqueue_fold: Callable[[], object] | None = None, fold_interval_seconds: int = 10,
                    scheduler: BaseScheduler | None = None) -> BaseScheduler:
    scheduler = scheduler or BlockingScheduler(timezone=tz)
    scheduler.add_job(
        enqueue, nightly_trigger(tz), id=NIGHTLY_JOB_ID, coalesce=True, max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS, name="nightly ETL",
    )
    scheduler.add_job(
        clean_up, IntervalTrigger(minutes=CLEANUP_EVERY_MINUTES, timezone=tz), id=CLEANUP_JOB_ID,
        coalesce=True, max_instances=1, name="exports cleanup",
    )
    if enqueue_fold is not None:
        # A missed tick is not made up: the next one folds in everything pending.
        scheduler.add_job(
            enqueue_fold, IntervalTrigger(seconds=fold_interval_seconds, timezone=tz), id=FOLD_JOB_ID,
            coalesce=True, max_instances=1, misfire_grace_time=fold_interval_seconds, name="fold-in",
        )
    return scheduler


def scheduled_jobs(settings: Settings, actors, slots: redis.Redis | None, scheduler: BaseScheduler) -> BaseScheduler:
    """The scheduler's three jobs on `scheduler`, sending on the actors' broker (the scheduler
    process, and the demo's own process)."""
    return build_scheduler(
        settings.report_timezone, NightlyEnqueuer(actors.actors[NIGHTLY_ETL].send, settings.report_timezone, slots),
        _log_cleanup(partial(clean_up_exports, settings, export_enqueuer(actors.broker),
                             webhook_enqueuer(actors.broker))),
        actors.actors[FOLD_CHANGES].send, settings.fold_interval_seconds, scheduler,
    )


def _log_cleanup(clean_up: Callable[[], str]) -> Callable[[], None]:
    def run() -> None:
        try:
            log.info("%s", clean_up())
        except Exception:  # the next round tries again; the scheduler must keep the nightly ETL going
            log.exception("exports cleanup failed")

    return run


def run(settings: Settings) -> int:
    from workers import actors
    from workers.broker import start_in_process_worker

    slots = redis_client(settings.redis_url) if settings.redis_url else None
    if slots is None:
        # No Redis, no shared queue: the scheduler consumes its own message (the demo's setup).
        start_in_process_worker(actors.broker, threads=1)
    scheduler = scheduled_jobs(settings, actors, slots, BlockingScheduler(timezone=settings.report_timezone))
    log.info("scheduling the nightly ETL at %02d:00 %s, the exports cleanup every %d min and a fold-in every %d s",
             NIGHTLY_HOUR, settings.report_timezone.key, CLEANUP_EVERY_MINUTES, settings.fold_interval_seconds)
    scheduler.start()
    return 0
