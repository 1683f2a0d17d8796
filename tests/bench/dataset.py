"""The benchmark database of a scale: built once with the demo-data generator, then reused.

A marker table records what was built and when. The generated history ends at build time, so
a reused dataset ages: its last days become empty and a 7-day range holds less and less. It
is rebuilt when older than `max_age_days` (or on request), which keeps the figures
comparable between runs without paying the build every time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from ulid import ULID

from core.dates import day_bounds, local_midnight_utc, local_today, utc_now
from tests.bench.scales import Scale
from tests.bench.services import CommandFailed, run_cli

MARKER_TABLE = "bench_dataset"
# Source data and state that are not derived from the ledger; every other table is materialized
# by the ETL and emptied before the timed backfill (whatever tables the ETL branch adds).
NOT_DERIVED = {
    "users", "wallets", "wallet_ledger", "purchases", "promo_campaigns", "referrals",
    "token_authorizations", "analytics_exports", "alembic_version", MARKER_TABLE,
}
REALTIME_MARKER = "bench:realtime"
REALTIME_REASONS = (("debit", "chapter_generation"), ("debit", "image_generation"), ("credit", "daily_bonus"))
BUILD_TIMEOUT_SECONDS = 3 * 3600


@dataclass(frozen=True)
class Dataset:
    scale: str
    seed: int
    users: int
    days: int
    requested_rows: int
    ledger_rows: int
    built_at: datetime
    build_seconds: float
    reused: bool

    def summary(self) -> dict:
        return asdict(self)


def ensure_dataset(scale: Scale, server: Engine, database_url: URL, env: dict[str, str], *,
                   max_age_days: int, rebuild: bool, log) -> Dataset:
    existing = None if rebuild else _read_marker(server, scale)
    if existing and existing.built_at >= utc_now() - timedelta(days=max_age_days):
        try:
            run_cli(["migrate"], env, timeout=BUILD_TIMEOUT_SECONDS)
        except CommandFailed as error:
            # E.g. migrated by another branch's checkout to a revision this one does not know.
            log(f"dataset {scale.database}: cannot migrate the existing one ({error}); rebuilding")
        else:
            log(f"dataset {scale.database}: reusing the one built {existing.built_at:%Y-%m-%d %H:%M} UTC")
            return existing
    log(f"dataset {scale.database}: building {scale.ledger_rows:,} rows, {scale.users:,} users, {scale.days} days")
    with server.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {scale.database}")
        conn.exec_driver_sql(f"CREATE DATABASE {scale.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    started = time.perf_counter()
    run_cli(["migrate"], env, timeout=BUILD_TIMEOUT_SECONDS)
    run_cli(["demo-data", "--users", str(scale.users), "--days", str(scale.days), "--seed", str(scale.seed),
             "--rows", str(scale.ledger_rows), "--replace"], env, timeout=BUILD_TIMEOUT_SECONDS)
    build_seconds = round(time.perf_counter() - started, 1)
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            ledger_rows = conn.exec_driver_sql("SELECT COUNT(*) FROM wallet_ledger").scalar_one()
            dataset = Dataset(scale.name, scale.seed, scale.users, scale.days, scale.ledger_rows, ledger_rows,
                              utc_now(), build_seconds, reused=False)
            _write_marker(conn, dataset)
    finally:
        engine.dispose()
    log(f"dataset {scale.database}: built in {build_seconds} s ({ledger_rows:,} ledger rows)")
    return dataset


def _read_marker(server: Engine, scale: Scale) -> Dataset | None:
    with server.connect() as conn:
        found = conn.execute(sa.text(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = :db AND table_name = :table"
        ), {"db": scale.database, "table": MARKER_TABLE}).first()
        if not found:
            return None
        row = conn.execute(sa.text(
            f"SELECT scale, seed, users, days, requested_rows, ledger_rows, built_at, build_seconds "
            f"FROM {scale.database}.{MARKER_TABLE}"
        )).first()
    if row is None or (row.scale, row.seed, row.users, row.days, row.requested_rows) != (
            scale.name, scale.seed, scale.users, scale.days, scale.ledger_rows):
        return None
    return Dataset(row.scale, row.seed, row.users, row.days, row.requested_rows, row.ledger_rows,
                   row.built_at, float(row.build_seconds), reused=True)


def _write_marker(conn, dataset: Dataset) -> None:
    conn.exec_driver_sql(
        f"CREATE TABLE {MARKER_TABLE} (scale VARCHAR(16) NOT NULL, seed INT NOT NULL, users INT NOT NULL, "
        "days INT NOT NULL, requested_rows BIGINT NOT NULL, ledger_rows BIGINT NOT NULL, "
        "built_at DATETIME NOT NULL, build_seconds DECIMAL(10,1) NOT NULL)"
    )
    values = dataset.summary()
    values.pop("reused")
    conn.execute(sa.text(
        f"INSERT INTO {MARKER_TABLE} VALUES (:scale, :seed, :users, :days, :requested_rows, :ledger_rows, "
        ":built_at, :build_seconds)"
    ), values)


def reset_materialized(engine: Engine) -> list[str]:
    """Empty every derived table, so the timed backfill starts from nothing on a reused dataset."""
    with engine.begin() as conn:
        names = conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
        ).scalars().all()
        derived = sorted(name for name in names if name not in NOT_DERIVED)
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in derived:
            conn.exec_driver_sql(f"TRUNCATE TABLE `{name}`")
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    return derived


# The transactions export's equality filters a scope may use to get near its row count.
SCOPE_FILTERS = ("reason", "direction", "token_type")


@dataclass(frozen=True)
class DayCounts:
    day: date
    total: int
    by_filter: dict[tuple[str, str], int]  # (filter, value) -> rows


@dataclass(frozen=True)
class ExportScope:
    """Which transactions an export takes: whole local days, and at most one equality filter."""

    first: date
    last: date
    filter: tuple[str, str] | None
    rows: int
    scanned: int  # all rows of those days: what both sides read to find the exported ones

    def filters(self) -> dict:
        scope = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        return {**scope, self.filter[0]: self.filter[1]} if self.filter else scope

    def describe(self) -> str:
        days = f"{self.first} to {self.last}"
        return f"{days}, {self.filter[0]} {self.filter[1]}" if self.filter else days


def counts_by_day(engine: Engine, tz: ZoneInfo, last_day: date, days: int) -> list[DayCounts]:
    """Ledger rows per local day and per value of each scope filter, newest day first (an index
    range scan per day)."""
    counts = []
    columns = ", ".join(SCOPE_FILTERS)
    with engine.connect() as conn:
        for back in range(days):
            day = last_day - timedelta(days=back)
            start, end = day_bounds(day, day, tz)
            total, by_filter = 0, {}
            for *values, rows in conn.execute(sa.text(
                f"SELECT {columns}, COUNT(*) FROM wallet_ledger "
                f"WHERE occurred_at >= :start AND occurred_at < :end GROUP BY {columns}"
            ), {"start": start, "end": end}):
                total += rows
                for key in zip(SCOPE_FILTERS, values):
                    by_filter[key] = by_filter.get(key, 0) + rows
            counts.append(DayCounts(day, total, by_filter))
    return counts


def export_scope(counts: list[DayCounts], cap: int) -> ExportScope:
    """As many rows as the cap allows (the export limit refuses more), but not by scanning many
    days for a rare value.

    Candidates are the longest range of days ending yesterday within the cap, over all rows and
    over each value of each scope filter: at 10m one day holds 63,000 rows, so only a filter
    gets near 100,000 (debits over two days) or under 10,000. The most rows win among the
    candidates whose days hold at most twice what they export (else among all); fewer days
    win a tie.
    """
    keys = sorted({key for day in counts for key in day.by_filter})
    candidates = []
    for key in (None, *keys):
        rows = scanned = days = 0
        for day in counts:
            day_rows = day.total if key is None else day.by_filter.get(key, 0)
            if rows + day_rows > cap:
                break
            rows, scanned, days = rows + day_rows, scanned + day.total, days + 1
        if rows:
            candidates.append(ExportScope(counts[days - 1].day, counts[0].day, key, rows, scanned))
    if not candidates:
        raise RuntimeError(f"no scope of whole days holds between 1 and {cap:,} transactions")
    lean = [scope for scope in candidates if scope.scanned <= 2 * scope.rows]
    return max(lean or candidates, key=lambda scope: (scope.rows, scope.first))


def clear_realtime_rows(engine: Engine, since: datetime) -> int:
    """Rows a crashed earlier run left behind (always recent: they are inserted 'today')."""
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "DELETE FROM wallet_ledger WHERE occurred_at >= :since AND reference_id = :marker"
        ), {"since": since, "marker": REALTIME_MARKER}).rowcount


@contextmanager
def realtime_rows(engine: Engine, tz: ZoneInfo, target_rows: int, seed: int) -> Iterator[int]:
    """Top today up to `target_rows` ledger rows (a bulk INSERT); removed again on the way out."""
    today_start = local_midnight_utc(local_today(tz), tz)
    now = utc_now()
    with engine.connect() as conn:
        existing = conn.execute(sa.text("SELECT COUNT(*) FROM wallet_ledger WHERE occurred_at >= :start"),
                                {"start": today_start}).scalar_one()
        user_ids = conn.execute(sa.text("SELECT id FROM users WHERE role = 'user' ORDER BY id LIMIT 5000")).scalars().all()
    rng = random.Random(seed)
    span = max(int((now - today_start).total_seconds()), 1)
    rows = []
    for _ in range(max(target_rows - existing, 0)):
        at = today_start + timedelta(seconds=rng.randrange(span))
        direction, reason = rng.choice(REALTIME_REASONS)
        rows.append({
            "id": str(ULID.from_datetime(at.replace(tzinfo=UTC))), "user_id": rng.choice(user_ids),
            "token_type": rng.choice(("regular", "promo")), "direction": direction, "reason": reason,
            "amount": rng.randint(1, 300), "reference_id": REALTIME_MARKER, "occurred_at": at,
        })
    insert = sa.text(
        "INSERT INTO wallet_ledger (id, user_id, token_type, direction, reason, amount, reference_id, occurred_at) "
        "VALUES (:id, :user_id, :token_type, :direction, :reason, :amount, :reference_id, :occurred_at)"
    )
    try:
        with engine.begin() as conn:
            for chunk in range(0, len(rows), 5_000):
                conn.execute(insert, rows[chunk:chunk + 5_000])
        yield existing + len(rows)
    finally:
        clear_realtime_rows(engine, today_start)
