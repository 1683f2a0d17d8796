"""Sending messages to the workers: the one thing `web` may use `workers` for."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import redis

from core.config import Settings
from core.errors import ServiceUnavailable
from workers.broker import build_broker
from workers.jobs import DELIVER_WEBHOOK, ETL_QUEUE, EXPORTS_QUEUE, GENERATE_EXPORT, QUEUED_ETL, WEBHOOKS_QUEUE


def sending_broker(settings: Settings) -> dramatiq.Broker:
    """The broker this process sends on: Redis, or in the demo the in-process broker that this
    process's own worker consumes."""
    if settings.redis_url:
        return build_broker(settings)
    from workers import actors

    return actors.broker


def _sender(broker: dramatiq.Broker, queue: str, actor: str, what: str) -> Callable[[object], None]:
    """A function that sends one message with one argument to `actor`, or raises ServiceUnavailable."""
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


def export_enqueuer(broker: dramatiq.Broker) -> Callable[[str], None]:
    """Queues the generation of an export."""
    return _sender(broker, EXPORTS_QUEUE, GENERATE_EXPORT, "export")


def etl_run_enqueuer(broker: dramatiq.Broker) -> Callable[[int], None]:
    """Queues an ETL run recorded as queued (core.etl.requests)."""
    return _sender(broker, ETL_QUEUE, QUEUED_ETL, "ETL")


def webhook_enqueuer(broker: dramatiq.Broker) -> Callable[[str], None]:
    """Queues the delivery of a webhook event (core.exports.webhooks)."""
    return _sender(broker, WEBHOOKS_QUEUE, DELIVER_WEBHOOK, "webhook")
