"""Issue 11's writer rows: what change capture costs the wallet's ledger writers.

Eight writers insert one ledger row per transaction (PyMySQL, autocommit off, a commit per row,
as the wallet writes them) for a bounded time, and one INSERT ... SELECT writes 100,000 rows in
one statement; each with the capture triggers on wallet_ledger in place and with them dropped,
interleaved (ABBA). Then the same eight writers with capture while a fold-in runs every few
seconds, watching InnoDB for lock waits and deadlocks.

Every row written is dated now, marked, and deleted again with capture in place: whatever was
written while capture was off, its deletion is captured, so the stored figures stay exact.
"""

from __future__ import annotations

import importlib.util
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from ulid import ULID

from core.config import Settings
from core.dates import utc_now
from core.etl.job import fold_in
from core.etl.lock import EtlAlreadyRunning
from tests.bench.report import Measure, Row, Target
from tests.bench.scales import Scale
from tests.bench.services import PROJECT_ROOT

SECTION = "writers: ledger inserts with and without change capture (baseline: capture dropped)"
MARKER = "bench:writers"
WRITERS = 8
BULK_ROWS = 100_000
FOLD_EVERY_SECONDS = 3
SAMPLE_SECONDS = 0.2
MIGRATION = PROJECT_ROOT / "migrations" / "versions" / "0006_change_capture.py"
LEDGER_TRIGGERS = "analytics_capture_wallet_ledger_"
COLUMNS = "id, user_id, token_type, direction, reason, amount, reference_id, occurred_at"
INSERT_ONE = f"INSERT INTO wallet_ledger ({COLUMNS}) VALUES (%s, %s, 'regular', 'debit', 'chapter_generation', 1, %s, UTC_TIMESTAMP())"
MYSQL_DEADLOCK, MYSQL_LOCK_WAIT_TIMEOUT = 1213, 1205
# Transactions of this database's sessions waiting for a row lock right now (the server's
# status counters count every database's, and other clients share this server).
WAITING_HERE = (
    "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "
    "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
    "WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()"
)


# -- the capture triggers ---------------------------------------------------------------------

def capture_triggers() -> dict[str, str]:
    """The ledger's capture triggers, name → CREATE statement, exactly as migration 0006 writes
    them (its module name starts with a digit, so it is loaded from its file)."""
    spec = importlib.util.spec_from_file_location("change_capture_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    statements = {statement.split()[2]: statement for statement in migration._mysql_triggers()}
    return {name: sql for name, sql in statements.items() if name.startswith(LEDGER_TRIGGERS)}


def restore_capture(engine: Engine) -> list[str]:
    """Create the ledger's capture triggers that are missing (dropped here by a run that was
    killed before it could put them back); returns their names."""
    triggers = capture_triggers()
    with engine.begin() as conn:
        present = set(conn.execute(sa.text(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
        )).scalars())
        missing = [name for name in triggers if name not in present]
        for name in missing:
            conn.exec_driver_sql(triggers[name])
    return missing


@contextmanager
def capture_dropped(engine: Engine) -> Iterator[None]:
    with engine.begin() as conn:
        for name in capture_triggers():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:
        restore_capture(engine)


# -- the load ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WriterLoad:
    rows: int
    seconds: float
    deadlocks: int
    lock_wait_timeouts: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _connect(url: URL) -> pymysql.Connection:
    return pymysql.connect(host=url.host, port=url.port or 3306, user=url.username, password=url.password or "",
                           database=url.database, autocommit=False)


def run_writers(url: URL, user_ids: list[int], seconds: float) -> WriterLoad:
    """WRITERS threads, each on its own connection and wallet, inserting and committing one row
    at a time for `seconds`. The server's fsync per commit is the bottleneck, not the GIL."""
    connections = [_connect(url) for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def write(conn: pymysql.Connection, user_id: int) -> tuple[int, int, int, float, float]:
        rows = deadlocks = timeouts = 0
        with conn.cursor() as cursor:
            start.wait()
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                try:
                    cursor.execute(INSERT_ONE, (str(ULID()), user_id, MARKER))
                    conn.commit()
                    rows += 1
                except pymysql.err.OperationalError as error:
                    conn.rollback()
                    if error.args[0] == MYSQL_DEADLOCK:
                        deadlocks += 1
                    elif error.args[0] == MYSQL_LOCK_WAIT_TIMEOUT:
                        timeouts += 1
                    else:
                        raise
        return rows, deadlocks, timeouts, began, time.monotonic()

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            results = [future.result() for future in
                       [pool.submit(write, conn, user_id) for conn, user_id in zip(connections, user_ids)]]
    finally:
        for conn in connections:
            conn.close()
    elapsed = max(r[4] for r in results) - min(r[3] for r in results)
    return WriterLoad(sum(r[0] for r in results), elapsed, sum(r[1] for r in results), sum(r[2] for r in results))


def time_bulk_insert(url: URL, user_id: int) -> float:
    """Seconds for one INSERT ... SELECT of BULK_ROWS rows and its commit (the rows staged first
    in a temporary table, so the time is the server's, not the client's)."""
    conn = _connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE bench_bulk_rows (id CHAR(26) NOT NULL PRIMARY KEY)")
            cursor.executemany("INSERT INTO bench_bulk_rows VALUES (%s)", [(str(ULID()),) for _ in range(BULK_ROWS)])
            conn.commit()
            started = time.perf_counter()
            cursor.execute(f"INSERT INTO wallet_ledger ({COLUMNS}) SELECT id, %s, 'regular', 'debit', "
                           f"'chapter_generation', 1, %s, UTC_TIMESTAMP() FROM bench_bulk_rows", (user_id, MARKER))
            conn.commit()
            return time.perf_counter() - started
    finally:
        conn.close()


def delete_written(engine: Engine, since) -> int:
    """The rows written since `since` (with capture in place, so the deletes are captured)."""
    with engine.begin() as conn:
        return conn.execute(sa.text("DELETE FROM wallet_ledger WHERE occurred_at >= :since AND reference_id = :marker"),
                            {"since": since, "marker": MARKER}).rowcount


def writer_users(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            f"SELECT id FROM users WHERE role = 'user' ORDER BY id DESC LIMIT {WRITERS}")).scalars())


# -- the rows ---------------------------------------------------------------------------------

@dataclass
class Phase:
    """The figures of one capture setting across the rounds."""

    rates: list[float]
    bulk_seconds: list[float]


def measure_writers(engine: Engine, core_engine: Engine, url: URL, settings: Settings, scale: Scale,
                    quiet: Callable[[], None], fold_out: TextIO, log) -> list[Row]:
    quiet()  # once: on a shared server a wait per phase can take minutes; ABBA evens out the rest
    users = writer_users(engine)
    since = utc_now() - timedelta(minutes=1)
    phases = {True: Phase([], []), False: Phase([], [])}
    try:
        for round_ in range(scale.writer_rounds):
            for capture in ((True, False) if round_ % 2 == 0 else (False, True)):
                with nullcontext() if capture else capture_dropped(engine):
                    load = run_writers(url, users, scale.writer_seconds)
                    bulk = time_bulk_insert(url, users[0])
                phases[capture].rates.append(load.rate)
                phases[capture].bulk_seconds.append(bulk)
                log(f"  writers {'with' if capture else 'without'} capture: {load.rate:,.0f} rows/s; "
                    f"bulk {BULK_ROWS:,} rows {bulk:.2f} s")
                delete_written(engine, since)
        locks = lock_check(engine, core_engine, url, settings, users, scale.lock_check_seconds, fold_out)
    finally:
        delete_written(engine, since)
    with_, without = phases[True], phases[False]
    rate_ratios = [w / wo for w, wo in zip(with_.rates, without.rates)]
    bulk_ratios = [wo / w for w, wo in zip(with_.bulk_seconds, without.bulk_seconds)]
    rounds = f"{scale.writer_rounds} round(s), ABBA"
    return [
        Row(SECTION, f"{WRITERS} writers, 1 row per transaction, {scale.writer_seconds} s: with capture",
            Measure(round(statistics.median(with_.rates)), "rows/s"),
            Measure(round(statistics.median(without.rates)), "rows/s"), Target(min_speedup=0.9),
            note=f"{rounds}; with ÷ without per round: {_spread(rate_ratios)}"),
        Row(SECTION, f"bulk INSERT ... SELECT of {BULK_ROWS:,} rows, one statement: with capture",
            Measure(round(statistics.median(with_.bulk_seconds), 2), "s"),
            Measure(round(statistics.median(without.bulk_seconds), 2), "s"), Target(min_speedup=0.9),
            note=f"{rounds}; speed with ÷ without per round: {_spread(bulk_ratios)}"),
        *locks,
    ]


def _spread(ratios: list[float]) -> str:
    return f"median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"


def _innodb_counters(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: int(value) for name, value in conn.execute(sa.text(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_deadlocks')"))}


def lock_check(engine: Engine, core_engine: Engine, url: URL, settings: Settings, users: list[int],
               seconds: int, fold_out: TextIO) -> list[Row]:
    """`seconds` of the writers with capture while a fold-in runs every FOLD_EVERY_SECONDS (from
    this process, as the worker would), counting lock waits and deadlocks."""
    stop = threading.Event()

    def fold_often() -> int:
        runs = 0
        while not stop.wait(FOLD_EVERY_SECONDS):
            try:
                fold_in(core_engine, settings, out=fold_out)
                runs += 1
            except EtlAlreadyRunning:
                pass
        return runs

    def sample_waits() -> int:
        seen = 0
        with engine.connect() as conn:
            while not stop.wait(SAMPLE_SECONDS):
                seen += conn.execute(sa.text(WAITING_HERE)).scalar_one()
                conn.rollback()  # a fresh view of the lock tables each time
        return seen

    before = _innodb_counters(engine)
    with ThreadPoolExecutor(2) as pool:
        folds, waits_seen = pool.submit(fold_often), pool.submit(sample_waits)
        try:
            load = run_writers(url, users, seconds)
        finally:
            stop.set()
        folds, waits_seen = folds.result(), waits_seen.result()
    after = _innodb_counters(engine)
    waits = after["Innodb_row_lock_waits"] - before["Innodb_row_lock_waits"]
    deadlocks = after["Innodb_deadlocks"] - before["Innodb_deadlocks"]
    label = f"{seconds} s of {WRITERS} writers with capture and a fold-in every {FOLD_EVERY_SECONDS} s"
    note = (f"server-wide counters (other databases' clients count too); waits seen in this database "
            f"(sampled every {SAMPLE_SECONDS} s): {waits_seen}; {load.rows:,} rows at {load.rate:,.0f} rows/s, "
            f"{folds} fold-ins; writers' errors: {load.deadlocks} deadlocks, {load.lock_wait_timeouts} lock wait timeouts")
    return [
        Row(SECTION, f"row lock waits in {label}", Measure(waits, "waits"), target=Target(at_most=0, unit="waits"),
            note=note),
        Row(SECTION, f"deadlocks in {label}", Measure(deadlocks, "deadlocks"),
            target=Target(at_most=0, unit="deadlocks"), note=note),
    ]
