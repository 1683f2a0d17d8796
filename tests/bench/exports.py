"""Export timings (POST → ready), the worker's peak memory, and the `mysql --batch` baseline."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
from pymysql.converters import escape_string
from sqlalchemy.engine import URL

from core.dates import day_bounds
from core.exports.datasets import TRANSACTIONS
from tests.bench.client import ApiClient
from tests.bench.dataset import ExportScope
from tests.bench.stats import Timing, repeat_timed

EXPORTS = "/api/v1/admin/analytics/exports"
POLL_SECONDS = 0.05
# A long export is polled less often: at most a few percent of its time late, and not thousands of GETs.
MAX_POLL_SECONDS = 1.0
EXPORT_TIMEOUT_SECONDS = 1800
TRANSACTION_COLUMNS = (
    "l.id, l.user_id, u.username, u.email, l.token_type, l.direction, l.reason, l.amount, "
    "l.balance_after_regular, l.balance_after_promo, l.reference_id, l.metadata, l.occurred_at"
)


class ExportFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ExportRun:
    seconds: float
    actual_rows: int | None
    peak_rss_mb: float
    file_size: int | None = None

    @property
    def rows_per_second(self) -> float:
        return round((self.actual_rows or 0) / self.seconds) if self.seconds else 0.0


def export_transactions(client: ApiClient, fmt: str, scope: ExportScope,
                        worker_processes: Callable[[], list[psutil.Process]], compression: str = "none") -> ExportRun:
    """POST an export of the transactions in `scope`, poll until ready; the worker's peak RSS."""
    started = time.perf_counter()
    status, body = client.post_json(EXPORTS, {"type": fmt, "dataset": "transactions", "filters": scope.filters(),
                                              "compression": compression})
    if status != 201:
        raise ExportFailed(f"POST {EXPORTS} answered {status}: {body}")
    export_id = body["export_id"]
    deadline = time.monotonic() + EXPORT_TIMEOUT_SECONDS
    while body.get("status") == "preparing" and time.monotonic() < deadline:
        time.sleep(min(MAX_POLL_SECONDS, max(POLL_SECONDS, (time.perf_counter() - started) / 50)))
        status, body = client.get_json(f"{EXPORTS}/{export_id}")
        if status != 200:
            raise ExportFailed(f"GET {EXPORTS}/{export_id} answered {status}: {body}")
    seconds = time.perf_counter() - started
    if body.get("status") != "ready":
        raise ExportFailed(f"export {export_id} ended {body.get('status')!r} after {seconds:.0f} s: {body}")
    # Canceled (expired early, its file deleted), or the next equal request would get this one.
    status, _ = client.request("DELETE", f"{EXPORTS}/{export_id}")
    if status != 200:
        raise ExportFailed(f"DELETE {EXPORTS}/{export_id} answered {status}")
    return ExportRun(round(seconds, 3), body.get("actual_rows"), peak_rss_mb(worker_processes()),
                     body.get("file_size"))


def peak_rss_mb(processes: list[psutil.Process]) -> float:
    """The largest high-water mark of resident memory (VmHWM) among the worker processes.

    VmHWM is the kernel's own peak, so no sampling can miss a short spike; the worker is
    restarted before each export so the peak belongs to that export.
    """
    peaks = []
    for process in processes:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return round(max(peaks), 1) if peaks else 0.0


def mysql_batch_available() -> bool:
    return shutil.which("mysql") is not None


def mysql_batch_dump(database_url: URL, scope: ExportScope, tz: ZoneInfo, out_path: Path) -> Callable[[], None]:
    """A call that dumps the export's rows with `mysql --batch` into `out_path`."""
    start, end = day_bounds(scope.first, scope.last, tz)
    name, value = scope.filter or (None, None)
    equal = f" AND l.{name} = '{escape_string(value)}'" if name else ""
    # The plan the export's own query is held to (core/exports/datasets.py: no user_id filter
    # here): left to itself, MariaDB picked a plan four to eight times slower at 10m on 2026-12-01,
    # which would flatter the export.
    sql = (f"SELECT STRAIGHT_JOIN {TRANSACTION_COLUMNS} FROM wallet_ledger l "
           f"FORCE INDEX ({', '.join(TRANSACTIONS.range_indexes)}) JOIN users u ON u.id = l.user_id "
           f"WHERE l.occurred_at >= '{start:%Y-%m-%d %H:%M:%S}' AND l.occurred_at < '{end:%Y-%m-%d %H:%M:%S}'"
           f"{equal} ORDER BY l.occurred_at, l.id")
    command = ["mysql", "--batch", "-h", database_url.host or "127.0.0.1", "-P", str(database_url.port or 3306),
               "-u", database_url.username or "root", database_url.database, "-e", sql]
    env = dict(os.environ)
    if database_url.password:
        env["MYSQL_PWD"] = str(database_url.password)

    def dump() -> None:
        with open(out_path, "wb") as out:
            subprocess.run(command, stdout=out, stderr=subprocess.PIPE, env=env, check=True, timeout=600)

    return dump


def time_mysql_batch(database_url: URL, scope: ExportScope, tz: ZoneInfo, out_path: Path) -> tuple[Timing, int]:
    """The same export rows dumped by `mysql --batch` to a file; returns the timing and the row count."""
    timing = repeat_timed(mysql_batch_dump(database_url, scope, tz, out_path), at_least=3, at_most=5,
                          budget_seconds=10)
    with open(out_path, "rb") as dumped:
        rows = sum(1 for _ in dumped) - 1
    out_path.unlink()
    return timing, rows


@dataclass(frozen=True)
class Interleaved:
    """Ours against the baseline, run by turns: each round's ratio (baseline seconds / ours)."""

    ours_seconds: list[float]
    baseline_seconds: list[float]

    @property
    def ratios(self) -> list[float]:
        return [round(b / o, 2) for o, b in zip(self.ours_seconds, self.baseline_seconds)]


def interleaved_against_mysql(ours: Callable[[], float], baseline: Callable[[], None], rounds: int) -> Interleaved:
    """ABBA order (ours first in even rounds, the baseline first in odd ones), so a drift of the
    shared machine's load weighs on both sides alike."""
    ours_seconds, baseline_seconds = [], []
    for number in range(rounds):
        for turn in ("ours", "baseline") if number % 2 == 0 else ("baseline", "ours"):
            if turn == "ours":
                ours_seconds.append(ours())
            else:
                started = time.perf_counter()
                baseline()
                baseline_seconds.append(time.perf_counter() - started)
    return Interleaved(ours_seconds, baseline_seconds)
