"""A progress line redrawn in place (done/total, rate, time left), on a terminal only: never
written to a file or a pipe, whose readers want the log lines alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

CLEAR_LINE = "\r\x1b[K"


class ProgressLine:
    def __init__(self, out: TextIO, unit: str, monotonic: Callable[[], float] = time.monotonic):
        self._out = out
        self._unit = unit
        self._monotonic = monotonic
        self.shown = out.isatty()
        self.text = ""
        self._started = monotonic()

    def start(self) -> None:
        self._started = self._monotonic()

    def update(self, done: int, total: int) -> None:
        if not self.shown:
            return
        elapsed = max(self._monotonic() - self._started, 1e-9)
        rate = done / elapsed
        left = timedelta(seconds=round((total - done) / rate)) if rate else None
        self.text = (
            f"{done}/{total} {self._unit} ({100 * done // total}%), {rate:.2f} {self._unit}/s, "
            f"{'unknown' if left is None else left} left"
        )
        self._out.write(CLEAR_LINE + self.text)
        self._out.flush()

    def end(self) -> None:
        if self.text:
            self._out.write(CLEAR_LINE)
            self._out.flush()
            self.text = ""
