"""Readiness checks of the services the app depends on."""

from __future__ import annotations

import redis
from sqlalchemy.engine import Engine

from core.db import ping
from core.redis_client import redis_client


def check_database(engine: Engine) -> str:
    try:
        ping(engine)
    except Exception as exc:  # any driver error means "not ready"
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def check_redis(url: str | None) -> str:
    if url is None:
        return "not configured (in-process broker)"
    try:
        client = redis_client(url)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"
