"""The scheduler process: enqueues the nightly ETL (which ends with the expired-export cleanup)
at 03:00 REPORT_TIMEZONE, with APScheduler's cron trigger.

Two schedulers started by mistake must not enqueue the night twice: before sending, each claims
the night's slot, a Redis key set only if absent (SET NX EX); the one that loses sends nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from zoneinfo import ZoneInfo

import redis
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from core.config import Settings
from core.dates import local_today, utc_now
from core.redis_client import redis_client
from workers.jobs import NIGHTLY_ETL

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID = "nightly-etl"
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


def build_scheduler(tz: ZoneInfo, enqueue: Callable[[], object]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=tz)
    scheduler.add_job(
        enqueue, nightly_trigger(tz), id=NIGHTLY_JOB_ID, coalesce=True, max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS, name="nightly ETL",
    )
    return scheduler


def run(settings: Settings) -> int:
    from workers import actors
    from workers.broker import start_in_process_worker

    slots = redis_client(settings.redis_url) if settings.redis_url else None
    if slots is None:
        # No Redis, no shared queue: the scheduler consumes its own message (the demo's setup).
        start_in_process_worker(actors.broker, threads=1)
    nightly_etl = actors.actors[NIGHTLY_ETL]
    scheduler = build_scheduler(settings.report_timezone, NightlyEnqueuer(nightly_etl.send, settings.report_timezone, slots))
    log.info("scheduling the nightly ETL at %02d:00 %s", NIGHTLY_HOUR, settings.report_timezone.key)
    scheduler.start()
    return 0
