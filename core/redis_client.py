"""The one way this project makes a Redis client: every client (the export enqueuer, the
workers' broker, the scheduler, the ETL lock, the readiness probe) has a connect and a socket
timeout, so a hung Redis costs a request about a second and a 503, never a hung thread.

A frozen Redis (SIGSTOP, a stalled host) still accepts TCP connections into its backlog, so the
connect timeout alone does not help; the socket timeout does. A timed-out command is not retried
(that would double the wait); a connection Redis closed (a restart) is retried once, at once.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

CONNECT_TIMEOUT_SECONDS = 1.0
SOCKET_TIMEOUT_SECONDS = 1.0


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        retry_on_timeout=False,
        retry=Retry(NoBackoff(), retries=1, supported_errors=(redis.ConnectionError,)),
    )
