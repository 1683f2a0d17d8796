"""The ETL's log in the spec's format ("[YYYY-MM-DD HH:MM:SS] message", report-zone time), and
on a terminal a progress line kept below it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from core.dates import utc_now
from core.progress import CLEAR_LINE, ProgressLine


class EtlLog:
    def __init__(self, out: TextIO, tz: ZoneInfo, clock: Callable[[], datetime] = utc_now,
                 monotonic: Callable[[], float] = time.monotonic):
        self._out = out
        self._tz = tz
        self._clock = clock
        self._progress = ProgressLine(out, "days", monotonic)

    def line(self, message: str) -> None:
        stamp = self._clock().replace(tzinfo=UTC).astimezone(self._tz).strftime("%Y-%m-%d %H:%M:%S")
        if self._progress.text:
            self._out.write(CLEAR_LINE)
        self._out.write(f"[{stamp}] {message}\n")
        self._out.write(self._progress.text)
        self._out.flush()

    def start_progress(self) -> None:
        self._progress.start()

    def progress(self, done: int, total: int) -> None:
        """Days done of total, days per second and the time left, redrawn in place (terminal only)."""
        self._progress.update(done, total)

    def end_progress(self) -> None:
        self._progress.end()
