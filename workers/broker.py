"""The Dramatiq broker: Redis when REDIS_URL is set, else the in-process broker of the demo.

Dramatiq binds actors to the global broker when their module is imported, so `setup` runs
before `workers.actors` is imported (the actors module calls it).

A message a worker had fetched but not acknowledged when it died (SIGKILL, OOM, power loss) goes
back on its queue once that worker's heartbeat is older than WORKER_HEARTBEAT_TIMEOUT_MS (20 s)
and a live worker runs "maintenance" on that queue. Dramatiq runs it only on a random one in a
thousand broker commands, which took 80-141 s after a SIGKILL; here every worker process also
runs it, and heartbeats, every WORKER_MAINTENANCE_INTERVAL_MS (5 s): a dead worker's messages
are back on their queue within 25 s of its death, and a live worker busy with long jobs keeps
its heartbeat fresh.

An idle Redis consumer polls its queue with a growing sleep, up to the worker's timeout (1 s,
which Dramatiq's CLI cannot change): a new export would wait up to that long for a worker. The
broker caps the sleep at WORKER_IDLE_POLL_MS instead.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from core.config import Settings
from core.redis_client import redis_client

log = logging.getLogger(__name__)

# Not a command of Dramatiq's dispatch script: sent with the maintenance flag, it runs only the
# script's heartbeat and maintenance parts.
MAINTAIN_COMMAND = "maintain"


class _PromptRedisBroker(RedisBroker):
    def __init__(self, *, idle_poll_ms: int, **options):
        super().__init__(**options)
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        return super().consume(queue_name, prefetch, min(timeout, self.idle_poll_ms))

    def maintain(self) -> None:
        """Heartbeat, and put back on their queues the unacknowledged messages of every broker
        whose heartbeat is older than heartbeat_timeout (Dramatiq's script does it per queue)."""
        for queue_name in sorted(self.queues | self.delay_queues):
            self._dispatch(MAINTAIN_COMMAND)(queue_name)

    def _should_do_maintenance(self, command: str) -> int:
        return 1 if command == MAINTAIN_COMMAND else super()._should_do_maintenance(command)


class PeriodicMaintenance(dramatiq.Middleware):
    """Runs the broker's maintenance on a timer in every worker process (see the module's doc)."""

    def __init__(self, interval_seconds: float):
        self._interval = interval_seconds
        self._stopped = threading.Event()

    def after_worker_boot(self, broker, worker):
        self._stopped.clear()
        threading.Thread(target=self._run, args=(broker,), name="redis-maintenance", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stopped.set()

    def _run(self, broker: _PromptRedisBroker) -> None:
        while not self._stopped.wait(self._interval):
            try:
                broker.maintain()
            except redis.RedisError as error:  # Redis away for a moment: the next round tries again
                log.warning("broker maintenance failed: %s", type(error).__name__)


def build_broker(settings: Settings) -> dramatiq.Broker:
    if not settings.redis_url:
        return StubBroker()
    broker = _PromptRedisBroker(
        client=redis_client(settings.redis_url),
        idle_poll_ms=settings.worker_idle_poll_ms,
        heartbeat_timeout=settings.worker_heartbeat_timeout_ms,
    )
    broker.add_middleware(PeriodicMaintenance(settings.worker_maintenance_interval_ms / 1000))
    return broker


def setup(settings: Settings) -> dramatiq.Broker:
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    return broker


def start_in_process_worker(broker: dramatiq.Broker, threads: int = 2, worker_timeout: int = 1000
                            ) -> list[dramatiq.Worker]:
    """Consume messages in this process (the all-in-one demo; the tests): the jobs' queues and
    the webhooks' queue on threads of their own, as `wallet-analytics worker` does in processes
    of their own, so a slow webhook receiver never holds a thread an export needs."""
    from workers.jobs import JOB_QUEUES, WEBHOOKS_QUEUE

    workers = [dramatiq.Worker(broker, worker_threads=threads, worker_timeout=worker_timeout, queues=queues)
               for queues in (set(JOB_QUEUES), {WEBHOOKS_QUEUE})]
    for worker in workers:
        worker.start()
    return workers
