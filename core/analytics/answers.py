"""Whole answers kept in the process between requests, each under the state it was computed from.

A dashboard asks the same questions over and over while the data move a few times a minute.
Computing an answer reads the range's stored days, the pending changes and the live part of the
range from the base tables: several round trips to the database, most of a request's time under
load (issue 18: the 30-day overview held 0.12× of `/healthz`'s rate). A kept answer costs one
statement in one round trip (core.db.single_statement_engine), which reads its *validator*:

- the range's stored days, each with its figures, version and `covered_until`;
- how many transactions have deleted captured changes (analytics_changes_generation, counted by
  core.changes in each of them);
- how many changes are pending (up to PENDING_CAP).

Every committed change to what the answers read adds a row to the change log in its own
transaction (migration 0006's triggers). While no deletion has been counted the log only grows,
so an equal count of pending changes means no change was committed in between; equal stored days
mean the ETL has stored nothing new. An equal validator therefore means an equal answer. An
answer computed afresh reads the validator again as its snapshot's first read, so it is kept
under the state it was computed from, never a later one.

Only questions whose answers read nothing but the captured tables and the stored days are kept:
top users name users (their names and emails are not captured), promotions look campaigns up.
With PENDING_CAP or more changes pending (a backlog the fold-in has yet to catch up with),
answers are computed afresh.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core import changes
from core.analytics.cache import VersionedCache
from core.analytics.purchases import purchase_analytics
from core.analytics.shared_reads import SharedReads
from core.analytics.tokens import token_composition, token_overview, token_trend, tokens_by_feature
from core.db import single_statement_engine
from core.dialect import snapshot
from core.tables import analytics_changes_generation, analytics_daily_users, analytics_token_daily

PENDING_CAP = 1_000
KEPT_QUESTIONS = frozenset({token_overview, token_trend, tokens_by_feature, token_composition, purchase_analytics})
# A dashboard's view asks about a dozen questions; a few admins' views at once.
_kept = VersionedCache(max_entries=256)
_validator_reads = SharedReads()
_day = analytics_token_daily.c


def answer(engine: Engine, question: Callable[..., dict], first: date, last: date, tz: ZoneInfo,
           **options) -> dict:
    """`question`'s answer over [first, last], read in one snapshot: the kept one if nothing it
    reads has changed since it was computed, else computed now (and kept). The answer is
    shared: treat it as read-only."""
    if question not in KEPT_QUESTIONS:
        with snapshot(engine) as conn:
            return question(conn, first, last, tz, **options)
    key = (engine.url, question, first, last, tz, tuple(sorted(options.items())))
    state = _current_validator(engine, first, last)
    if state is not None and (kept := _kept.get(key, state)) is not None:
        return kept
    with snapshot(engine) as conn:
        # Read again as the snapshot's first read: the answer is kept under the state it saw.
        state = validator(conn, first, last)
        result = question(conn, first, last, tz, **options)
    if state is not None:
        _kept.put(key, state, result)
    return result


def _current_validator(engine: Engine, first: date, last: date) -> tuple | None:
    """The validator as of now: a read begun after this call began, shared with the requests
    of the process that ask about the same range meanwhile (core.analytics.shared_reads)."""
    return _validator_reads.read((engine.url, first, last), lambda: _read_validator(engine, first, last))


def _read_validator(engine: Engine, first: date, last: date) -> tuple | None:
    """One round trip; once more on a fresh connection when the pooled one was dropped (the
    database restarted, a connection killed), which the engine does not ping for."""
    try:
        with single_statement_engine(engine.url).connect() as conn:
            return validator(conn, first, last)
    except sa.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with single_statement_engine(engine.url).connect() as conn:
        return validator(conn, first, last)


def validator(conn: Connection, first: date, last: date) -> tuple | None:
    """What an answer over [first, last] depends on, in one statement (one snapshot on every
    dialect) and one row; None when too many changes are pending to count them on every read."""
    state = conn.execute(_VALIDATOR, {"first": first, "last": last}).one_or_none()
    if state is None or state.pending > PENDING_CAP:
        return None
    return tuple(state)


def _text(column: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(sa.cast(column, sa.String), "")


# Each stored day of the range as one text of its figures, version and covered_until, all of
# them in one value (a row per day parsed in Python cost more than the rest of a kept request).
# Days are told apart by their dates, so the value differs whenever the days do, in any order.
_DAY_TEXT = functools.reduce(lambda text, column: text + "|" + column, map(_text, (
    _day.date, _day.credited, _day.debited, _day.revenue_in_inr, _day.covered_until, analytics_daily_users.c.version)))
_VALIDATOR = sa.select(
    analytics_changes_generation.c.generation,
    changes.pending_count(PENDING_CAP).label("pending"),
    sa.select(sa.func.group_concat(_DAY_TEXT))
    .select_from(analytics_token_daily.outerjoin(analytics_daily_users, analytics_daily_users.c.date == _day.date))
    .where(_day.date >= sa.bindparam("first", type_=sa.Date), _day.date <= sa.bindparam("last", type_=sa.Date))
    .scalar_subquery(),
).where(analytics_changes_generation.c.id == 1)
