"""What is waiting and running on the Redis queues, read from Dramatiq's own keys (for /metrics):
`dramatiq:<queue>` lists the waiting message ids, `dramatiq:__acks__.<worker>.<queue>` holds a
worker's messages in flight, `dramatiq:__heartbeats__` scores each worker by its last beat."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from workers.jobs import ETL_QUEUE, EXPORTS_QUEUE, WEBHOOKS_QUEUE

NAMESPACE = "dramatiq"
QUEUES = (EXPORTS_QUEUE, ETL_QUEUE, WEBHOOKS_QUEUE)
ALIVE_WITHIN_SECONDS = 60


@dataclass(frozen=True)
class QueueState:
    waiting: dict[str, int]
    in_flight: dict[str, int]
    workers_alive: int


def queue_state(client: redis.Redis) -> QueueState:
    waiting = {queue: client.llen(f"{NAMESPACE}:{queue}") for queue in QUEUES}
    in_flight = dict.fromkeys(QUEUES, 0)
    for key in client.scan_iter(f"{NAMESPACE}:__acks__.*"):
        queue = key.decode().rsplit(".", 1)[-1]
        if queue in in_flight:
            in_flight[queue] += client.scard(key)
    now_ms = time.time() * 1000
    alive = client.zcount(f"{NAMESPACE}:__heartbeats__", now_ms - ALIVE_WITHIN_SECONDS * 1000, "+inf")
    return QueueState(waiting, in_flight, alive)
