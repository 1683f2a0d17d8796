"""Whole answers kept in the process between requests, each under the state it was computed from.

A dashboard asks the same questions over and over while the data move a few times a minute.
Computing an answer reads the range's stored days, the pending changes and the live part of the
range from the base tables: several round trips to the database, most of a request's time under
load (issue 18: the 30-day overview held 0.12× of `/healthz`'s rate). A kept answer costs one
statement, which reads the answer's *validator*:

- the range's stored days, each with its figures, version and `covered_until`;
- how many transactions have deleted captured changes (analytics_changes_generation, counted by
  core.changes in each of them);
- how many changes are pending (up to PENDING_CAP).

Every committed change to what the answers read adds a row to the change log in its own
transaction (migration 0006's triggers). While no deletion has been counted the log only grows,
so an equal count of pending changes means no change was committed in between; equal stored days
mean the ETL has stored nothing new. An equal validator therefore means an equal answer. The
validator is read in the answer's own snapshot, before the answer, so an answer is kept under
the state it was computed from, never a later one.

Only questions whose answers read nothing but the captured tables and the stored days are kept:
top users name users (their names and emails are not captured), promotions look campaigns up.
With PENDING_CAP or more changes pending (a backlog the fold-in has yet to catch up with),
answers are computed afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core import changes
from core.analytics.cache import VersionedCache, database_key
from core.analytics.purchases import purchase_analytics
from core.analytics.tokens import token_composition, token_overview, token_trend, tokens_by_feature
from core.tables import analytics_changes_generation, analytics_daily_users, analytics_token_daily

PENDING_CAP = 1_000
KEPT_QUESTIONS = frozenset({token_overview, token_trend, tokens_by_feature, token_composition, purchase_analytics})
# A dashboard's view asks about a dozen questions; a few admins' views at once.
_kept = VersionedCache(max_entries=256)
_day = analytics_token_daily.c


def answer(conn: Connection, question: Callable[..., dict], first: date, last: date, tz: ZoneInfo,
           **options) -> dict:
    """`question`'s answer over [first, last]: the kept one if nothing it reads has changed since
    it was computed, else computed now (and kept). Its first read begins the snapshot that the
    computation reads too. The answer is shared: treat it as read-only."""
    if question not in KEPT_QUESTIONS:
        return question(conn, first, last, tz, **options)
    state = validator(conn, first, last)
    key = (database_key(conn), question.__name__, first, last, tz.key, tuple(sorted(options.items())))
    if state is not None and (kept := _kept.get(key, state)) is not None:
        return kept
    result = question(conn, first, last, tz, **options)
    if state is not None:
        _kept.put(key, state, result)
    return result


def validator(conn: Connection, first: date, last: date) -> tuple | None:
    """What an answer over [first, last] depends on, in one statement (one snapshot on every
    dialect); None when too many changes are pending to count them on every read."""
    generation = analytics_changes_generation
    days = generation.outerjoin(analytics_token_daily, sa.and_(generation.c.id == 1, _day.date >= first, _day.date <= last)) \
        .outerjoin(analytics_daily_users, analytics_daily_users.c.date == _day.date)
    rows = conn.execute(
        sa.select(generation.c.generation, changes.pending_count(PENDING_CAP), _day.date, _day.credited, _day.debited, _day.revenue_in_inr,
                  _day.covered_until, analytics_daily_users.c.version)
        .select_from(days)
        .where(generation.c.id == 1)
        .order_by(_day.date)
    ).all()
    if not rows or rows[0][1] > PENDING_CAP:
        return None
    return rows[0][0], rows[0][1], tuple(tuple(row[2:]) for row in rows if row[2] is not None)
