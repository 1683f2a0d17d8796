"""The Dramatiq broker: Redis when REDIS_URL is set, else the in-process broker of the demo.

Dramatiq binds actors to the global broker when their module is imported, so `setup` runs
before `workers.actors` is imported (the actors module calls it).

A message a worker had fetched but not acknowledged when it died (SIGKILL, OOM, power loss) goes
back on its queue once that worker's heartbeat is older than WORKER_HEARTBEAT_TIMEOUT_MS; some
live worker notices during "maintenance", which runs on WORKER_MAINTENANCE_CHANCE of every
million broker commands. Dramatiq's defaults (60 s, 1000) suit production; tests shorten them.

An idle Redis consumer polls its queue with a growing sleep, up to the worker's timeout (1 s,
which Dramatiq's CLI cannot change): a new export would wait up to that long for a worker. The
broker caps the sleep at WORKER_IDLE_POLL_MS instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dramatiq
import redis
from dramatiq.brokers.redis import (
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAINTENANCE_CHANCE,
    RedisBroker,
)
from dramatiq.brokers.stub import StubBroker

from core.config import Settings
from core.errors import ConfigError

CONNECT_TIMEOUT_SECONDS = 2  # a POST answers 503 quickly when Redis is down, instead of hanging
DEFAULT_IDLE_POLL_MS = 100


class _PromptRedisBroker(RedisBroker):
    def __init__(self, *, idle_poll_ms: int, **options):
        super().__init__(**options)
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        return super().consume(queue_name, prefetch, min(timeout, self.idle_poll_ms))


def build_broker(settings: Settings, environ: Mapping[str, str] | None = None) -> dramatiq.Broker:
    if not settings.redis_url:
        return StubBroker()
    env = os.environ if environ is None else environ
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    return _PromptRedisBroker(
        client=client,
        idle_poll_ms=_positive_int(env, "WORKER_IDLE_POLL_MS", DEFAULT_IDLE_POLL_MS),
        heartbeat_timeout=_positive_int(env, "WORKER_HEARTBEAT_TIMEOUT_MS", DEFAULT_HEARTBEAT_TIMEOUT),
        maintenance_chance=_positive_int(env, "WORKER_MAINTENANCE_CHANCE", DEFAULT_MAINTENANCE_CHANCE),
    )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or int(raw) == 0:
        raise ConfigError(f"{name}: expected a positive whole number, got {raw!r}")
    return int(raw)


def setup(settings: Settings) -> dramatiq.Broker:
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    return broker


def start_in_process_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    """Consume messages in this process (the all-in-one demo)."""
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    return worker
