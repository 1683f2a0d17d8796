"""Sending messages to the workers: the one thing `web` may use `workers` for."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import redis

from core.config import Settings
from core.errors import ServiceUnavailable
from workers.broker import build_broker
from workers.jobs import ETL_QUEUE, EXPORTS_QUEUE, GENERATE_EXPORT, QUEUED_ETL


def _sender(settings: Settings, queue: str, actor: str, what: str) -> Callable[[object], None]:
    """A function that sends one message with one argument to `actor`, or raises ServiceUnavailable."""
    if settings.redis_url:
        broker = build_broker(settings)
    else:
        # The demo: the in-process broker that this process's own worker consumes.
        from workers import actors

        broker = actors.broker
    broker.declare_queue(queue)

    def send(argument: object) -> None:
        message = dramatiq.Message(queue_name=queue, actor_name=actor, args=(argument,), kwargs={}, options={})
        try:
            broker.enqueue(message)
        except redis.RedisError as error:  # the Redis broker sends without wrapping its errors
            raise ServiceUnavailable(
                f"The {what} queue is unavailable ({type(error).__name__}); try again in a minute"
            ) from None

    return send


def export_enqueuer(settings: Settings) -> Callable[[str], None]:
    """Queues the generation of an export."""
    return _sender(settings, EXPORTS_QUEUE, GENERATE_EXPORT, "export")


def etl_run_enqueuer(settings: Settings) -> Callable[[int], None]:
    """Queues an ETL run recorded as queued (core.etl.requests)."""
    return _sender(settings, ETL_QUEUE, QUEUED_ETL, "ETL")
