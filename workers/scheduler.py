"""The scheduler process: enqueues the nightly ETL (which ends with the expired-export cleanup)
at 03:00 REPORT_TIMEZONE, with APScheduler's cron trigger, and runs the export janitor every
few minutes, so that no export stays `preparing` without a live job (core/exports/state.py).

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
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.config import Settings
from core.dates import local_today, utc_now
from workers.enqueue import export_enqueuer
from workers.jobs import NIGHTLY_ETL, clean_up_exports

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID = "nightly-etl"
CLEANUP_JOB_ID = "exports-cleanup"
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


def build_scheduler(tz: ZoneInfo, enqueue: Callable[[], object], clean_up: Callable[[], object]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=tz)
    scheduler.add_job(
        enqueue, nightly_trigger(tz), id=NIGHTLY_JOB_ID, coalesce=True, max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS, name="nightly ETL",
    )
    scheduler.add_job(
        clean_up, IntervalTrigger(minutes=CLEANUP_EVERY_MINUTES, timezone=tz), id=CLEANUP_JOB_ID,
        coalesce=True, max_instances=1, name="exports cleanup",
    )
    return scheduler


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

    slots = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    if slots is None:
        # No Redis, no shared queue: the scheduler consumes its own message (the demo's setup).
        start_in_process_worker(actors.broker, threads=1)
    nightly_etl = actors.actors[NIGHTLY_ETL]
    enqueue_export = export_enqueuer(actors.broker)
    scheduler = build_scheduler(settings.report_timezone,
                                NightlyEnqueuer(nightly_etl.send, settings.report_timezone, slots),
                                _log_cleanup(partial(clean_up_exports, settings, enqueue_export)))
    log.info("scheduling the nightly ETL at %02d:00 %s", NIGHTLY_HOUR, settings.report_timezone.key)
    scheduler.start()
    return 0
