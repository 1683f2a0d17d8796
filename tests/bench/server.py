"""The MariaDB server the benchmark runs on: one run per scale at a time, a buffer pool that
holds the dataset, and a quiet server before each timed phase."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tests.bench.scales import Scale

# Quiet: purge has caught up and InnoDB writes less than this per second (its idle page cleaner
# trickles a few MB/s; a build or a backfill being written back is tens to hundreds).
QUIET_HISTORY_LENGTH = 1000
QUIET_WRITE_BYTES_PER_SECOND = 4 * 2**20
QUIET_TIMEOUT_SECONDS = 900


@contextmanager
def exclusive_run(server: Engine, scale: Scale) -> Iterator[None]:
    """One benchmark per scale at a time: a MariaDB named lock, released if we die."""
    with server.connect() as conn:
        if conn.execute(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": scale.database}).scalar_one() != 1:
            raise SystemExit(f"another benchmark at scale {scale.name} is running (lock {scale.database})")
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": scale.database})


def grow_buffer_pool(server: Engine, gib: int, log: Callable[[str], None]) -> None:
    """Debian's default buffer pool (128 MiB) keeps a 1m or 10m dataset on disk, which no
    operator of such a database would do; MariaDB resizes it online. Never shrunk."""
    wanted = gib * 2 ** 30
    with server.connect() as conn:
        if conn.execute(sa.text("SELECT @@innodb_buffer_pool_size")).scalar_one() < wanted:
            conn.execute(sa.text(f"SET GLOBAL innodb_buffer_pool_size = {wanted}"))
            log(f"InnoDB buffer pool grown to {gib} GiB (the server keeps it until restarted)")


def wait_until_quiet(server: Engine, log: Callable[[str], None], timeout: float = QUIET_TIMEOUT_SECONDS) -> None:
    """Wait while InnoDB writes back and purges what an earlier phase changed.

    After a build or a backfill the server goes on flushing pages and purging old row versions
    for a while (25 s after building 1m); a phase timed meanwhile measures that, not the code
    (the first 10m run after a build: an export and its `mysql --batch` baseline 2.64 s and
    1.61 s; minutes later, quiet, 1.36 s and 0.44 s).
    """
    started = time.monotonic()
    with server.connect() as conn:
        history, written = _innodb_activity(conn)
        while time.monotonic() - started < timeout:
            time.sleep(1)
            history, now_written = _innodb_activity(conn)
            if history < QUIET_HISTORY_LENGTH and now_written - written < QUIET_WRITE_BYTES_PER_SECOND:
                break
            written = now_written
        else:
            log(f"server still busy after {timeout:.0f} s (history length {history:,}); timing anyway")
            return
    waited = time.monotonic() - started
    if waited > 1.5:
        log(f"waited {waited:.0f} s for InnoDB to write back and purge the previous phase's changes")


def _innodb_activity(conn: Connection) -> tuple[int, int]:
    status = dict(conn.execute(sa.text(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_history_list_length', 'Innodb_data_written')"
    )).all())
    return int(status.get("Innodb_history_list_length", 0)), int(status["Innodb_data_written"])
