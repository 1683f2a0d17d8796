"""The ETL's log in the spec's format ("[YYYY-MM-DD HH:MM:SS] message", report-zone time), and
on a terminal a progress line kept below it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from core.dates import utc_now

CLEAR_LINE = "\r\x1b[K"


class EtlLog:
    def __init__(self, out: TextIO, tz: ZoneInfo, clock: Callable[[], datetime] = utc_now,
                 monotonic: Callable[[], float] = time.monotonic):
        self._out = out
        self._tz = tz
        self._clock = clock
        self._monotonic = monotonic
        self._show_progress = out.isatty()
        self._progress = ""
        self._started = monotonic()

    def line(self, message: str) -> None:
        stamp = self._clock().replace(tzinfo=UTC).astimezone(self._tz).strftime("%Y-%m-%d %H:%M:%S")
        if self._progress:
            self._out.write(CLEAR_LINE)
        self._out.write(f"[{stamp}] {message}\n")
        self._out.write(self._progress)
        self._out.flush()

    def start_progress(self) -> None:
        self._started = self._monotonic()

    def progress(self, done: int, total: int) -> None:
        """Days done of total, days per second and the time left, redrawn in place (terminal only)."""
        if not self._show_progress:
            return
        elapsed = max(self._monotonic() - self._started, 1e-9)
        rate = done / elapsed
        left = timedelta(seconds=round((total - done) / rate)) if rate else None
        self._progress = (
            f"{done}/{total} days ({100 * done // total}%), {rate:.2f} days/s, "
            f"{'unknown' if left is None else left} left"
        )
        self._out.write(CLEAR_LINE + self._progress)
        self._out.flush()

    def end_progress(self) -> None:
        if self._progress:
            self._out.write(CLEAR_LINE)
            self._out.flush()
            self._progress = ""
