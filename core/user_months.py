"""The packed per-user sums of a month (analytics_user_months_packed): always exactly the
month's analytics_user_monthly rows, kept so in the same transaction.

Ranking a year of users read a row per user and month: at a million users that is up to twelve
million rows, seconds to fetch whatever is done with them. Packed, a month is one value of a few
megabytes: the ids' gaps and the two sums as the narrowest integers that hold them, compressed.
A stored day changes its month's value by the day's old and new sums, so writing it costs the
month's size, not a scan of the month's rows.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.dialect import upsert
from core.tables import analytics_user_monthly, analytics_user_months_packed

_HEADER = struct.Struct("<Q3B")  # entries, then the byte width of each column
_INT32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class UserSums:
    """Per-user sums: ids ascending and unique, one entry per user with a sum that is not 0."""

    user_ids: np.ndarray
    credited: np.ndarray
    debited: np.ndarray

    @classmethod
    def of_rows(cls, rows) -> UserSums:
        """From (user id, credited, debited) rows; a user whose sums are both 0 is no entry."""
        table = np.array([tuple(row) for row in rows], dtype=np.int64).reshape(-1, 3)
        table = table[(table[:, 1] != 0) | (table[:, 2] != 0)]
        order = np.argsort(table[:, 0], kind="stable")
        return cls(table[order, 0], table[order, 1], table[order, 2])

    @classmethod
    def of_dict(cls, sums: dict[int, list[int]]) -> UserSums:
        return cls.of_rows((user_id, credited, debited) for user_id, (credited, debited) in sums.items())

    def combined(self, other: UserSums, sign: int) -> UserSums:
        """self + sign × other, without the users whose sums both come out 0. Costs the size of
        self plus other's size times its log (other is usually the smaller: a day, today)."""
        if not len(other.user_ids):
            return self
        at = np.searchsorted(self.user_ids, other.user_ids)
        known = at < len(self.user_ids)
        known[known] = self.user_ids[at[known]] == other.user_ids[known]
        new = ~known

        def summed(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            values = mine.copy()
            values[at[known]] += sign * theirs[known]
            return np.insert(values, at[new], sign * theirs[new])

        ids = np.insert(self.user_ids, at[new], other.user_ids[new])
        credited, debited = summed(self.credited, other.credited), summed(self.debited, other.debited)
        kept = (credited != 0) | (debited != 0)
        return UserSums(ids[kept], credited[kept], debited[kept])


EMPTY = UserSums(*(np.array([], dtype=np.int64),) * 3)


def pack(sums: UserSums) -> bytes:
    columns = [np.diff(sums.user_ids, prepend=0), sums.credited, sums.debited]
    narrowed = [column.astype("<i4") if not len(column) or (column.min() >= _INT32.min and column.max() <= _INT32.max)
                else column.astype("<i8") for column in columns]
    header = _HEADER.pack(len(sums.user_ids), *(column.itemsize for column in narrowed))
    return zlib.compress(header + b"".join(column.tobytes() for column in narrowed), 1)


def unpack(packed: bytes) -> UserSums:
    raw = zlib.decompress(packed)
    entries, *widths = _HEADER.unpack_from(raw)
    columns, offset = [], _HEADER.size
    for width in widths:
        dtype = np.dtype("<i4" if width == 4 else "<i8")
        columns.append(np.frombuffer(raw, dtype=dtype, count=entries, offset=offset).astype(np.int64))
        offset += width * entries
    gaps, credited, debited = columns
    return UserSums(np.cumsum(gaps), credited, debited)


def read(conn: Connection, month: date) -> UserSums:
    packed = conn.execute(sa.select(analytics_user_months_packed.c.sums)
                          .where(analytics_user_months_packed.c.month == month)).scalar()
    return EMPTY if packed is None else unpack(packed)


def write(conn: Connection, month: date, sums: UserSums) -> None:
    if len(sums.user_ids):
        upsert(conn, analytics_user_months_packed, [{"month": month, "sums": pack(sums)}], key=["month"])
    else:
        conn.execute(analytics_user_months_packed.delete().where(analytics_user_months_packed.c.month == month))


def replace_day(conn: Connection, month: date, old_day: UserSums, new_day: UserSums) -> None:
    """The month's value with a stored day's old sums taken out and its new ones added."""
    write(conn, month, read(conn, month).combined(old_day, -1).combined(new_day, 1))


def rebuild(conn: Connection, month: date) -> None:
    """The month's value packed afresh from its analytics_user_monthly rows."""
    m = analytics_user_monthly.c
    write(conn, month, UserSums.of_rows(conn.execute(
        sa.select(m.user_id, m.credited, m.debited).where(m.month == month).order_by(m.user_id))))


def delete_all(conn: Connection) -> None:
    conn.execute(analytics_user_months_packed.delete())
