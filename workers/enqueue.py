"""Sending messages to the workers: the one thing `web` may use `workers` for."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import redis

from core.config import Settings
from core.errors import ServiceUnavailable
from workers.broker import build_broker
from workers.jobs import EXPORTS_QUEUE, GENERATE_EXPORT


def sending_broker(settings: Settings) -> dramatiq.Broker:
    """The broker this process sends on: Redis, or in the demo the in-process broker that this
    process's own worker consumes."""
    if settings.redis_url:
        return build_broker(settings)
    from workers import actors

    return actors.broker


def export_enqueuer(broker: dramatiq.Broker) -> Callable[[str], None]:
    """A function that queues the generation of an export, or raises ServiceUnavailable."""
    broker.declare_queue(EXPORTS_QUEUE)

    def enqueue(export_id: str) -> None:
        message = dramatiq.Message(
            queue_name=EXPORTS_QUEUE, actor_name=GENERATE_EXPORT, args=(export_id,), kwargs={}, options={}
        )
        try:
            broker.enqueue(message)
        except redis.RedisError as error:  # the Redis broker sends without wrapping its errors
            raise ServiceUnavailable(
                f"The export queue is unavailable ({type(error).__name__}); try again in a minute"
            ) from None

    return enqueue
