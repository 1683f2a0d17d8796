"""Redis frozen (SIGSTOP) or killed: POST /exports answers 503 within 2 s, the export is recorded
failed, readiness says so; every Redis client of the project has connect and socket timeouts."""

import re
import time
from pathlib import Path

import falcon.testing
import pytest
import redis

from core.config import load_settings
from core.etl.lock import RedisEtlLock
from core.redis_client import redis_client
from tests.exports_support import EXPORTS
from tests.redis_server import own_redis_server
from web.app import create_app
from workers.broker import build_broker

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ANSWER_WITHIN_SECONDS = 2.0


@pytest.fixture
def redis_server(tmp_path):
    with own_redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def app_on_own_redis(env, db, redis_server):
    settings = load_settings({**env, "REDIS_URL": redis_server.url}, needs_jwt_secret=True)
    return falcon.testing.TestClient(create_app(settings))


def _post_export(client, headers, role: str):
    """A new export (each role its own: an equal request would get the export already made)."""
    started = time.monotonic()
    response = client.simulate_post(EXPORTS, json={"dataset": "users", "filters": {"role": role}}, headers=headers)
    return response, time.monotonic() - started


@pytest.mark.parametrize("fault", ["freeze", "kill"])
def test_an_export_answers_503_within_2_s_when_redis_hangs_or_is_gone(app_on_own_redis, redis_server, admin_headers,
                                                                      fault):
    client = app_on_own_redis
    assert _post_export(client, admin_headers, "user")[0].status_code == 201  # a pooled connection to Redis now exists
    getattr(redis_server, fault)()
    try:
        response, elapsed = _post_export(client, admin_headers, "admin")
        assert response.status_code == 503, response.text
        assert response.json["error"]["code"] == "service_unavailable"
        assert elapsed < ANSWER_WITHIN_SECONDS, f"answered after {elapsed:.2f} s"
        listed = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"]
        assert listed[0]["status"] == "failed"
        started = time.monotonic()
        assert client.simulate_get("/readyz").status_code == 503
        assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    finally:
        if fault == "freeze":
            redis_server.thaw()
    if fault == "freeze":  # thawed, the next export goes through on the same app
        assert _post_export(client, admin_headers, "service")[0].status_code == 201


def test_the_broker_and_the_etl_lock_give_up_on_a_frozen_redis(settings, redis_server):
    own = load_settings({"REDIS_URL": redis_server.url, "DATABASE_URL": "sqlite://"})
    broker = build_broker(own)
    lock = RedisEtlLock(redis_server.url)
    broker.declare_queue("exports")
    broker.client.ping()
    redis_server.freeze()
    try:
        for attempt in (broker.maintain, lock.acquire):
            started = time.monotonic()
            with pytest.raises(redis.RedisError):
                attempt()
            assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    finally:
        redis_server.thaw()


def test_every_redis_client_is_made_by_core_redis_client():
    """A client made elsewhere would have redis-py's defaults, not our timeouts."""
    maker = re.compile(r"redis\.(Redis|StrictRedis|ConnectionPool)(\.from_url)?\(|RedisBroker\(url=")
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("core", "web", "workers")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if maker.search(path.read_text()) and path != PROJECT_ROOT / "core" / "redis_client.py"
    ]
    assert offenders == []
    options = redis_client("redis://127.0.0.1:1/0").connection_pool.connection_kwargs
    assert options["socket_timeout"] and options["socket_connect_timeout"]
