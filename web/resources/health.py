"""Liveness and readiness probes (public)."""

import falcon

from core.health import check_database, check_redis


class Health:
    public = True

    def on_get(self, req, resp):
        resp.media = {"status": "ok"}


class Ready:
    public = True

    def __init__(self, engine, redis_url):
        self._engine = engine
        self._redis_url = redis_url

    def on_get(self, req, resp):
        checks = {"database": check_database(self._engine), "redis": check_redis(self._redis_url)}
        ready = not any(value.startswith("unreachable") for value in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ready" if ready else "not_ready", "checks": checks}
