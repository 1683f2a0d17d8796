"""One ETL run at a time, across every machine.

With REDIS_URL the lock is a Redis key (SET NX PX with a random token; released by
compare-and-delete, both by redis-py's Lock) that expires after LOCK_TTL_SECONDS unless renewed:
a thread of the holder renews it every third of that, so a long day never loses it, and a
crashed holder blocks others for at most that long. Without Redis it is held in the database: a MariaDB/MySQL named lock (GET_LOCK) on a
connection of its own, or an flock on a file beside the SQLite database; the server or the
kernel drops either when the holder's connection or process dies.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core import dialect
from core.config import Settings
from core.errors import Conflict, ServiceUnavailable
from core.redis_client import redis_client

LOCK_NAME = "wallet-analytics:etl"
# How long a crashed holder's lock outlives it; a live holder's thread renews it.
LOCK_TTL_SECONDS = 60


class EtlAlreadyRunning(Conflict):
    pass


class EtlLockLost(Exception):
    """The lock expired or was taken while this run held it."""


class EtlLock(Protocol):
    def acquire(self) -> bool: ...

    def renew(self) -> None: ...

    def release(self) -> None: ...

    def is_held(self) -> bool:
        """Whether any process holds it (a run recorded `running` while none does has died)."""


class RedisEtlLock:
    def __init__(self, redis_url: str, ttl_seconds: float = LOCK_TTL_SECONDS):
        client = redis_client(redis_url)
        # thread_local=False: the token must survive being renewed from any thread.
        self._lock = client.lock(LOCK_NAME, timeout=ttl_seconds, thread_local=False)
        self._ttl_seconds = ttl_seconds
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost: Exception | None = None

    def acquire(self) -> bool:
        try:
            acquired = self._lock.acquire(blocking=False)
        except redis.exceptions.ConnectionError as error:
            raise ServiceUnavailable(f"cannot reach Redis for the ETL lock ({error})") from error
        if acquired:
            self._stop.clear()
            self._lost = None
            self._renewer = threading.Thread(target=self._keep_renewing, name="etl-lock-renewer", daemon=True)
            self._renewer.start()
        return acquired

    def _keep_renewing(self) -> None:
        while not self._stop.wait(self._ttl_seconds / 3):
            try:
                self._lock.reacquire()
            except (redis.exceptions.LockError, redis.exceptions.RedisError) as error:
                self._lost = error
                return

    def renew(self) -> None:
        """Raises EtlLockLost if the lock expired or was taken (the renewer thread could not
        renew it in time, e.g. Redis was unreachable for longer than the TTL)."""
        try:
            self._lock.reacquire()
        except redis.exceptions.LockError as error:
            raise EtlLockLost(f"the ETL lock in Redis was lost ({self._lost or error})") from error

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        try:
            self._lock.release()
        except redis.exceptions.LockNotOwnedError:
            pass  # it expired already: nothing of ours left to release

    def is_held(self) -> bool:
        return self._lock.locked()


class MySqlEtlLock:
    def __init__(self, engine: Engine):
        # Named locks are server-wide: the database's name keeps apart the ETLs of two databases.
        self.name = f"{LOCK_NAME}:{engine.url.database}"[:64]
        self._engine = engine
        self._conn = None

    def acquire(self) -> bool:
        conn = self._engine.connect()
        if dialect.try_named_lock(conn, self.name):
            self._conn = conn
            return True
        conn.close()
        return False

    def renew(self) -> None:
        # Also keeps the otherwise idle connection (and so the lock) from timing out.
        try:
            held = dialect.holds_named_lock(self._conn, self.name)
        except SQLAlchemyError as error:
            raise EtlLockLost(f"the ETL's database lock was lost with its connection ({error})") from error
        if not held:
            raise EtlLockLost("the ETL's database lock was released by someone else")

    def release(self) -> None:
        try:
            dialect.release_named_lock(self._conn, self.name)
        except SQLAlchemyError:
            pass  # the connection is gone, and the server dropped the lock with it
        finally:
            self._conn.close()
            self._conn = None

    def is_held(self) -> bool:
        with self._engine.connect() as conn:
            return dialect.named_lock_is_used(conn, self.name)


class SqliteFileEtlLock:
    def __init__(self, engine: Engine):
        self._path = f"{engine.url.database}.etl-lock"
        self._file = None

    def acquire(self) -> bool:
        handle = open(self._path, "a")  # held open for as long as the lock is
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def renew(self) -> None:
        pass  # the kernel holds an flock until it is released or the process ends

    def release(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def is_held(self) -> bool:
        if self._file is not None:
            return True
        if not self.acquire():
            return True
        self.release()
        return False


def etl_lock(settings: Settings, engine: Engine) -> EtlLock:
    if settings.redis_url:
        return RedisEtlLock(settings.redis_url)
    if dialect.is_sqlite(engine):
        return SqliteFileEtlLock(engine)
    return MySqlEtlLock(engine)


@contextmanager
def holding(lock: EtlLock, *, wait: bool, poll_seconds: float = 1.0,
            on_wait: Callable[[], None] = lambda: None) -> Iterator[EtlLock]:
    """Hold `lock` for the block; if another run holds it, refuse or (with `wait`) wait for it."""
    waited = False
    while not lock.acquire():
        if not wait:
            raise EtlAlreadyRunning(
                "an ETL run is already running (another process or machine holds the ETL lock); "
                "try again once it has finished, or pass --wait to wait for it"
            )
        if not waited:
            on_wait()
            waited = True
        time.sleep(poll_seconds)
    try:
        yield lock
    finally:
        lock.release()
