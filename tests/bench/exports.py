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
from tests.bench.client import ApiClient
from tests.bench.dataset import ExportScope
from tests.bench.stats import Timing, repeat_timed

EXPORTS = "/api/v1/admin/analytics/exports"
POLL_SECONDS = 0.05
EXPORT_TIMEOUT_SECONDS = 300
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


def export_transactions(client: ApiClient, fmt: str, scope: ExportScope,
                        worker_processes: Callable[[], list[psutil.Process]]) -> ExportRun:
    """POST an export of the transactions in `scope`, poll until ready; the worker's peak RSS."""
    started = time.perf_counter()
    status, body = client.post_json(EXPORTS, {"type": fmt, "dataset": "transactions", "filters": scope.filters()})
    if status != 201:
        raise ExportFailed(f"POST {EXPORTS} answered {status}: {body}")
    export_id = body["export_id"]
    deadline = time.monotonic() + EXPORT_TIMEOUT_SECONDS
    while body.get("status") == "preparing" and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
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
    return ExportRun(round(seconds, 3), body.get("actual_rows"), peak_rss_mb(worker_processes()))


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


def time_mysql_batch(database_url: URL, scope: ExportScope, tz: ZoneInfo, out_path: Path) -> tuple[Timing, int]:
    """The same export rows dumped by `mysql --batch` to a file; returns the timing and the row count."""
    start, end = day_bounds(scope.first, scope.last, tz)
    name, value = scope.filter or (None, None)
    equal = f" AND l.{name} = '{escape_string(value)}'" if name else ""
    sql = (f"SELECT {TRANSACTION_COLUMNS} FROM wallet_ledger l JOIN users u ON u.id = l.user_id "
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

    timing = repeat_timed(dump, at_least=3, at_most=5, budget_seconds=10)
    with open(out_path, "rb") as dumped:
        rows = sum(1 for _ in dumped) - 1
    out_path.unlink()
    return timing, rows
