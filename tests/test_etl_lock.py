import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

import core.etl.job
from core.config import load_settings
from core.db import get_engine
from core.etl.lock import EtlAlreadyRunning, EtlLockLost, RedisEtlLock, etl_lock
from core.tables import analytics_etl_runs
from tests.etl_helpers import etl, token_daily

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAY = date(2025, 11, 5)
HOLD_THE_LOCK = """
import time
from core.config import load_settings
from core.db import get_engine
from core.db import get_engine
from core.etl.lock import etl_lock
settings = load_settings()
lock = etl_lock(settings, get_engine(settings.database_url))
assert lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture(params=["redis", "database"])
def lock_env(request, db, env):
    """The settings' environment with the lock in Redis, or in the database (no REDIS_URL)."""
    return env if request.param == "redis" else {k: v for k, v in env.items() if k != "REDIS_URL"}


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(analytics_etl_runs.c.status).order_by(analytics_etl_runs.c.id)).scalars())


def test_a_second_run_while_one_runs_is_refused(db, lock_env, monkeypatch):
    settings = load_settings(lock_env)
    inside, release = threading.Event(), threading.Event()
    materialize_day = core.etl.job.materialize_day

    def slow_materialize_day(engine, day, tz, **options):
        inside.set()
        release.wait(10)
        return materialize_day(engine, day, tz, **options)

    monkeypatch.setattr(core.etl.job, "materialize_day", slow_materialize_day)
    first = threading.Thread(target=etl, args=(db, settings), kwargs={"dates": [DAY]})
    first.start()
    try:
        assert inside.wait(10)
        with pytest.raises(EtlAlreadyRunning, match="already running"):
            etl(db, settings, dates=[date(2025, 11, 6)])
    finally:
        release.set()
        first.join(10)
    assert _statuses(db) == ["succeeded"]
    assert list(token_daily(db)) == [DAY]


def test_with_wait_a_second_run_waits_for_the_first(db, lock_env):
    settings = load_settings(lock_env)
    holder = etl_lock(settings, db)
    assert holder.acquire()
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(etl(db, settings, dates=[DAY], wait=True,
                                                                poll_seconds=0.05)))
    waiter.start()
    try:
        time.sleep(0.4)
        assert outcome == [] and _statuses(db) == []
    finally:
        holder.release()
    waiter.join(10)
    [(result, log)] = outcome
    assert result.dates == [DAY] and _statuses(db) == ["succeeded"]
    assert log.index("waiting for it to finish") < log.index("=== Analytics ETL Job Started ===")


def test_a_database_lock_dies_with_its_holder(db, env):
    lock_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    settings = load_settings(lock_env)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, **lock_env})
    try:
        assert holder.stdout.readline().strip() == b"held"
        assert not etl_lock(settings, db).acquire()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    lock = etl_lock(settings, db)
    deadline = time.monotonic() + 5
    while not lock.acquire():  # the server may take a moment to see the connection gone
        assert time.monotonic() < deadline, "the dead holder's lock was never released"
        time.sleep(0.05)
    lock.release()


def test_a_holder_that_lost_its_redis_lock_never_releases_the_next_holders(redis_url):
    import redis

    lost = RedisEtlLock(redis_url)
    assert lost.acquire()
    redis.Redis.from_url(redis_url).delete("wallet-analytics:etl")  # as if it had expired
    successor = RedisEtlLock(redis_url)
    assert successor.acquire()
    with pytest.raises(EtlLockLost):
        lost.renew()
    lost.release()  # a no-op: it must not release the successor's lock
    assert not RedisEtlLock(redis_url).acquire()
    successor.release()
    last = RedisEtlLock(redis_url)
    assert last.acquire()
    last.release()


def test_an_unreachable_redis_is_a_clear_error():
    from core.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="cannot reach Redis for the ETL lock"):
        RedisEtlLock("redis://127.0.0.1:1/0").acquire()


def test_a_run_whose_database_lock_connection_dies_fails(mysql_url):
    engine = get_engine(mysql_url)
    settings = load_settings({"DATABASE_URL": mysql_url.render_as_string(hide_password=False)})
    lock = etl_lock(settings, engine)
    assert lock.acquire()
    with engine.connect() as conn:
        holder_id = conn.execute(sa.text("SELECT IS_USED_LOCK(:name)"), {"name": lock.name}).scalar()
        conn.execute(sa.text(f"KILL {int(holder_id)}"))
    with pytest.raises(EtlLockLost, match="lost with its connection"):
        lock.renew()
    lock.release()
    again = etl_lock(settings, engine)
    assert again.acquire()
    again.release()


def test_a_live_redis_holder_keeps_its_lock_without_calling_renew(redis_url):
    holder = RedisEtlLock(redis_url, ttl_seconds=0.3)
    assert holder.acquire()
    time.sleep(1.0)  # three ttls: its thread renewed it meanwhile
    assert not RedisEtlLock(redis_url).acquire()
    assert RedisEtlLock(redis_url).is_held()
    holder.renew()
    holder.release()
    assert not RedisEtlLock(redis_url).is_held()


HOLD_THE_REDIS_LOCK = """
import sys, time
from core.etl.lock import RedisEtlLock
lock = RedisEtlLock(sys.argv[1], ttl_seconds=1)
assert lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_redis_holders_lock_is_taken_over_after_its_ttl(redis_url):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_REDIS_LOCK, redis_url], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        time.sleep(1.5)  # past its ttl, but renewed by the holder's thread
        assert not RedisEtlLock(redis_url).acquire()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    killed_at = time.monotonic()
    successor = RedisEtlLock(redis_url)
    while not successor.acquire():
        assert time.monotonic() - killed_at < 5, "the dead holder's lock was never taken over"
        time.sleep(0.05)
    successor.release()


def test_status_tells_a_dead_run_from_a_running_one(db, lock_env):
    from core.dates import utc_now
    from core.etl import runs
    from core.etl.status import etl_status

    settings = load_settings(lock_env)
    runs.start_run(db, "cli", [DAY], utc_now())
    lock = etl_lock(settings, db)
    dead = etl_status(db, settings.report_timezone, utc_now(), lock).last_run
    assert (dead.status, dead.error_message) == ("failed", runs.INTERRUPTED)
    holder = etl_lock(settings, db)
    assert holder.acquire()
    try:
        assert etl_status(db, settings.report_timezone, utc_now(), lock).last_run.status == "running"
    finally:
        holder.release()
