"""Deserialized bitmaps of materialized days, kept in the process between requests.

A long range reads hundreds of per-day user bitmaps (about 16 KB each at 100k users); reading
them from the database on every request was most of the request's time. A day's bitmaps change
only when the ETL stores the day again, and every store gives the day a new version (a ULID in
analytics_daily_users.version): a cached bitmap is used only under the version it was read with,
so the cache can never answer with a day as it was before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from pyroaring import BitMap

# At 100k users a year of every kind of bitmap is ~60k entries of a few KB: the hot ranges fit.
MAX_ENTRIES = 40_000


class BitmapCache:
    """A least-recently-used map of key -> (version, bitmap), safe across request threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[Hashable, tuple[str, BitMap]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: str) -> BitMap | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, version: str, bitmap: BitMap) -> None:
        with self._lock:
            self._entries[key] = (version, bitmap)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


bitmaps = BitmapCache()
