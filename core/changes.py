"""The captured changes (analytics_changes): what the base tables' triggers recorded and the ETL
has not folded in yet.

Each row says that a committed change touched a UTC minute (minutes since 1970-01-01). A stored
day is *dirty* while a pending change touches the part of it that its stored figures cover:
readers then answer the whole day from the base tables, and the next fold-in materializes it
again. A change outside every stored part (today's part not yet covered, a day never
materialized, a future day) is answered from the base tables anyway; the fold-in just drops it.

Rows are only ever deleted by exact id (or by a run of consecutive ids that were all read), once
the day they mark has been materialized from a snapshot taken after they were read: a change committed meanwhile keeps its row, so nothing is
lost. Deleting by id takes record locks only, never the gap that writers append to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.dates import day_bounds, to_local_date
from core.dialect import is_sqlite
from core.tables import analytics_changes, analytics_changes_generation

EPOCH = datetime(1970, 1, 1)
DELETE_CHUNK = 5_000
DELETE_RUNS_CHUNK = 500
_changes = analytics_changes.c
_generation = analytics_changes_generation.c


@dataclass(frozen=True)
class Change:
    id: int
    minute: int

    @property
    def starts_at(self) -> datetime:
        return minute_start(self.minute)


def minute_of(utc_naive: datetime) -> int:
    return int((utc_naive - EPOCH).total_seconds() // 60)


def minute_start(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def day_minutes(first: date, last: date, tz: ZoneInfo) -> tuple[int, int]:
    """The minutes [start, end) of local days first..last (zone offsets are whole minutes)."""
    start, end = day_bounds(first, last, tz)
    return minute_of(start), minute_of(end)


def pending(conn: Connection) -> list[Change]:
    """Every change not folded in yet, oldest first."""
    return [Change(id, minute) for id, minute in conn.execute(
        sa.select(_changes.id, _changes.minute).order_by(_changes.id))]


def pending_minutes(conn: Connection, first: date, last: date, tz: ZoneInfo) -> set[int]:
    """The minutes of local days first..last that pending changes touched."""
    start, end = day_minutes(first, last, tz)
    return set(conn.execute(
        sa.select(_changes.minute).distinct().where(_changes.minute >= start, _changes.minute < end)
    ).scalars())


def is_dirty(change_start: datetime, covered_until: datetime) -> bool:
    """A change makes a stored day dirty when it falls in the part the stored figures cover."""
    return change_start < covered_until


def dirty_days(minutes: Iterable[int], covered_until: Mapping[date, datetime | None], tz: ZoneInfo) -> set[date]:
    """The stored days that changes touched in their stored part; `covered_until` gives each
    stored day's `covered_until` column (None: the whole day)."""
    dirty = set()
    for minute in minutes:
        start = minute_start(minute)
        day = to_local_date(start, tz)
        if day in covered_until and is_dirty(start, covered_until[day] or day_bounds(day, day, tz)[1]):
            dirty.add(day)
    return dirty


def by_day(changes: Iterable[Change], tz: ZoneInfo) -> dict[date, list[Change]]:
    days: dict[date, list[Change]] = defaultdict(list)
    for change in changes:
        days[to_local_date(change.starts_at, tz)].append(change)
    return days


def id_runs_of_day(conn: Connection, day: date, tz: ZoneInfo) -> list[tuple[int, int]]:
    """The ids of the day's pending changes as runs of consecutive ids, (first, last) each.

    A day loaded in bulk is a million changes, but a few runs: reading them as rows took most of
    the day's materialization (10 of 18 s at a million rows), deleting them by id lists 6 more.
    Every id of a run was read, and ids are never reused, so deleting the run deletes exactly
    the changes read (an id taken by a transaction not committed yet breaks the run)."""
    start, end = day_minutes(day, day, tz)
    numbered = sa.select(_changes.id, (_changes.id - sa.func.row_number().over(order_by=_changes.id)).label("run")) \
        .where(_changes.minute >= start, _changes.minute < end).subquery()
    return [(int(first), int(last)) for first, last in conn.execute(
        sa.select(sa.func.min(numbered.c.id), sa.func.max(numbered.c.id))
        .group_by(numbered.c.run).order_by(sa.func.min(numbered.c.id)))]


def delete(conn: Connection, changes: Iterable[Change] = (), runs: Sequence[tuple[int, int]] = ()) -> None:
    """Delete the changes read (given one by one, or as runs of ids from id_runs_of_day) and
    count the deletion in analytics_changes_generation. The last statement of its transaction:
    the generation's row lock is then the last lock each fold-in takes, so two never wait on
    each other in a cycle."""
    ids = sorted(change.id for change in changes)
    if not ids and not runs:
        return
    for start in range(0, len(runs), DELETE_RUNS_CHUNK):
        conn.execute(analytics_changes.delete().where(
            sa.or_(*(_changes.id.between(first, last) for first, last in runs[start:start + DELETE_RUNS_CHUNK]))))
    for start in range(0, len(ids), DELETE_CHUNK):
        conn.execute(analytics_changes.delete().where(_changes.id.in_(ids[start:start + DELETE_CHUNK])))
    _count_deletion(conn)


def _count_deletion(conn: Connection) -> None:
    conn.execute(analytics_changes_generation.update().where(_generation.id == 1)
                 .values(generation=_generation.generation + 1))


def pending_count(cap: int) -> sa.ScalarSelect:
    """A column expression: how many changes are pending, counted up to `cap` + 1 (counting a
    backlog of millions on every read would cost more than it saves)."""
    return sa.select(sa.func.count()).select_from(sa.select(_changes.id).limit(cap + 1).subquery()).scalar_subquery()


@dataclass(frozen=True)
class Backlog:
    changes: int
    oldest_changed_at: datetime | None


def backlog(conn: Connection) -> Backlog:
    count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(_changes.changed_at))).one()
    return Backlog(int(count), oldest)


def forget_all(engine: Engine) -> None:
    """Empty the log at once (TRUNCATE where there is one): only for a database with no stored
    day, where no change marks anything (core.demo_data after loading a new history)."""
    with engine.begin() as conn:
        if is_sqlite(conn):
            conn.execute(analytics_changes.delete())
        else:
            conn.exec_driver_sql(f"TRUNCATE TABLE {analytics_changes.name}")
    with engine.begin() as conn:
        _count_deletion(conn)
