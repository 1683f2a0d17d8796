"""The Dramatiq broker: Redis when REDIS_URL is set, else the in-process broker of the demo.

Dramatiq binds actors to the global broker when their module is imported, so `setup` runs
before `workers.actors` is imported (the actors module calls it).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from core.config import Settings


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.redis_url:
        return RedisBroker(url=settings.redis_url)
    return StubBroker()


def setup(settings: Settings) -> dramatiq.Broker:
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    return broker


def start_in_process_worker(broker: dramatiq.Broker, threads: int = 2) -> dramatiq.Worker:
    """Consume messages in this process (the all-in-one demo)."""
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    return worker
