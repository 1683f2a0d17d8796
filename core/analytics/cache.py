"""What the analytics keep in the process between requests: the days' rows with deserialized
bitmaps, per-user sums of materialized days, and of the stored part of a range.

A long range reads hundreds of per-day user bitmaps (about 16 KB each at 100k users) and, for top
users, hundreds of thousands of per-user sums; reading them from the database on every request
was most of the request's time. A day's stored data change only when the ETL stores it again
with other data, which gives the day another version (a digest of what it stored,
analytics_daily_users.version); a month's version is the digest of its days' versions. A cached
value is used only under the version it was read with, so the cache never answers with a day as
it was before.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable


class VersionedCache:
    """A least-recently-used map of key -> (version, value), safe across request threads."""

    def __init__(self, max_entries: int):
        self._entries: OrderedDict[Hashable, tuple[str, object]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: str):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, version: str, value: object) -> None:
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


def database_key(conn) -> str:
    """Which database a cached value belongs to (its URL without the password)."""
    return conn.engine.url.render_as_string(hide_password=True)


def combined_version(versions: Iterable[str]) -> str:
    """One version for a set of days' versions (given in date order)."""
    return hashlib.blake2b("|".join(versions).encode(), digest_size=13).hexdigest()


# A day's rows of one table that carries bitmaps (users, breakdown, purchases, referrals): four
# tables of a 366-day range are under 1,500 entries; at 100k users a day's are up to ~300 KB.
days = VersionedCache(max_entries=3_000)
# Per-user sums of a stored day: ~0.5 MB at 27,000 users a day; the edge days of a few ranges fit.
day_user_sums = VersionedCache(max_entries=64)
# Per-user sums over the stored part of a range (months and days), and over its whole months
# but the last: 24 bytes a user with activity in them, 24 MB for a year at a million users. A
# few ranges at once (7, 30, 365 days).
stored_totals = VersionedCache(max_entries=6)
