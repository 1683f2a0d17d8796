"""Reads shared by the requests that wait for them, as a database's group commit shares a flush.

A request must see every change committed before it arrived, so it may use only a read that
began after it arrived: one it begins itself when none of its key is in flight, or else the next
one, begun as soon as the read in flight when it arrived has finished. Under load one read in
flight then serves every request of its key that arrived meanwhile (a dashboard's view asks a
dozen questions over one range at once); a request alone reads as it would without this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Reads:
    begun: int = 0  # reads of the key begun; each begins after the one before has finished
    finished: int = 0
    value: Any = None  # of the last finished read
    error: Exception | None = None
    callers: int = 0  # requests inside SharedReads.read for the key

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class SharedReads:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._keys: dict[Hashable, _Reads] = {}

    def read(self, key: Hashable, read: Callable[[], Any]) -> Any:
        """The result (or the error) of a call of `read` for `key` begun after this call began."""
        with self._changed:
            reads = self._keys.setdefault(key, _Reads())
            reads.callers += 1
            wanted = reads.begun + 1  # the first read to begin from now on
        try:
            return self._read_numbered(reads, wanted, read)
        finally:
            with self._changed:
                reads.callers -= 1
                if not reads.callers:
                    del self._keys[key]

    def _read_numbered(self, reads: _Reads, wanted: int, read: Callable[[], Any]) -> Any:
        """The outcome of read number `wanted` or a later one: awaited, or begun here."""
        with self._changed:
            while reads.finished < reads.begun and reads.finished < wanted:  # one in flight, begun before
                self._changed.wait()
            if reads.finished >= wanted:
                return reads.outcome()
            reads.begun += 1
        try:
            value, error = read(), None
        except Exception as raised:
            value, error = None, raised
        with self._changed:
            reads.finished += 1
            reads.value, reads.error = value, error
            self._changed.notify_all()
            return reads.outcome()
