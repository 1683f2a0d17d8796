"""Numbers that never go stale (issue 11): a state machine interleaves random inserts, updates
and deletes of ledger rows, purchases and referrals, deletions of users and campaigns (their
rows cascade), ETL runs of past days, nightly runs, fold-ins and a clock moving on through today
(and past its midnight). After every step every analytics answer
equals a plain Python computation over the current rows; after every fold-in the stored days
equal a fresh materialization of them, and today is stored as far as the clock allows.

The window is Kolkata's 2025-02-26..2025-03-03 around a month's end, so that top users reads
monthly sums; the clock starts at 10:07 on 2025-03-01 ("today"), so the window holds past days
(materialized or not), today (materialized as it goes) and future days (always answered live).
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.etl.job import fold_in
from core.etl.plan import covered_until
from core.tables import promo_campaigns, purchases, referrals, users, wallet_ledger
from tests.analytics_reference import (
    CAMPAIGNS,
    KOLKATA,
    REASONS,
    USER_IDS,
    Ledger,
    Purchase,
    Referral,
    Rows,
    add_users_and_campaigns,
    campaign_values,
    every_answer,
    expected_every_answer,
    ledger_values,
    local_day,
    purchase_values,
    referral_values,
    user_values,
    utc,
)
from tests.etl_helpers import etl, rematerialized, snapshot, token_daily
from tests.factories import empty_tables, forget_changes

TODAY = date(2025, 3, 1)
WINDOW = [date(2025, 2, 26) + timedelta(days=n) for n in range(6)]
START = utc(TODAY, time(10, 7))
LAST_CLOCK = utc(TODAY + timedelta(days=1), time(1, 0))  # an hour into the next day
# The whole window, today alone, and a range across the month's end ending in the future.
RANGES = [(WINDOW[0], WINDOW[-1]), (TODAY, TODAY), (date(2025, 2, 27), date(2025, 3, 2))]

# Kolkata's midnight and the second before it; quarter hours (today's stored part grows by
# them) and the second before them, around the clock's start; or any second.
QUARTER_EDGES = [time(hour, minute) for hour in range(9, 13) for minute in (0, 15, 30, 45)]
local_times = st.one_of(
    st.sampled_from([time(0, 0, 0), time(23, 59, 59)]),
    st.sampled_from(QUARTER_EDGES + [(datetime.combine(TODAY, t) - timedelta(seconds=1)).time() for t in QUARTER_EDGES]),
    st.times().map(lambda t: t.replace(microsecond=0)),
)
timestamps = st.builds(utc, st.sampled_from(WINDOW), local_times)
user_ids = st.sampled_from(USER_IDS)
ledgers = st.builds(Ledger, user_ids, st.sampled_from(["regular", "promo"]), st.sampled_from(["credit", "debit"]),
                    st.sampled_from(REASONS), st.integers(1, 10_000), timestamps)
purchase_rows = st.builds(Purchase, user_ids, st.integers(1, 5000),
                          st.integers(1, 99_999).map(lambda cents: Decimal(cents) / 100),
                          st.sampled_from(["paid", "paid", "pending", "refunded", "failed"]), timestamps)
referral_rows = st.builds(Referral, user_ids, user_ids, st.sampled_from([None, *CAMPAIGNS]),
                          st.sampled_from(["pending", "credited"]), st.integers(0, 500), timestamps)
# How far a row is moved in time: across a midnight or a quarter hour when it sat next to one.
MOVES = [timedelta(seconds=sign * seconds) for sign in (-1, 1) for seconds in (1, 60, 86400)]
# Which row of a table a rule picks: an index into its ids, taken modulo their number.
picks = st.integers(0, 1000)


def _fields(row_type) -> st.SearchStrategy[frozenset[str]]:
    """Which fields an update changes (a new timestamp moves the row to another minute or day)."""
    return st.frozensets(st.sampled_from([f.name for f in dataclasses.fields(row_type)]), min_size=1)


class WrittenRows:
    """The rows of one base table as the test wrote them (the model), and the writes."""

    def __init__(self, engine, table: sa.Table, values, prefix: str):
        self.engine, self.table, self.values, self.prefix = engine, table, values, prefix
        self.rows: dict[str, object] = {}
        self.written = 0

    def insert(self, row) -> None:
        self.written += 1
        row_id = f"{self.prefix}{self.written:025d}"
        with self.engine.begin() as conn:
            conn.execute(sa.insert(self.table).values(**self.values(row_id, row)))
        self.rows[row_id] = row

    def _id(self, pick: int) -> str:
        return sorted(self.rows)[pick % len(self.rows)]

    def update(self, pick: int, changed) -> None:
        """Rewrite a row as `changed` (a function of the row) returns it."""
        row_id = self._id(pick)
        row = changed(self.rows[row_id])
        with self.engine.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == row_id).values(**self.values(row_id, row)))
        self.rows[row_id] = row

    def cascade(self, matches, **values) -> None:
        """What a foreign-key action did in the database to the rows that match: deleted them,
        or with `values`, set these."""
        for row_id, row in list(self.rows.items()):
            if matches(row):
                if values:
                    self.rows[row_id] = dataclasses.replace(row, **values)
                else:
                    del self.rows[row_id]

    def delete(self, pick: int) -> None:
        row_id = self._id(pick)
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id == row_id))
        del self.rows[row_id]


def _named(name: str):
    """Names a rule as failing examples print it."""
    def rename(function):
        function.__name__ = name
        return function
    return rename


def _writes(table: str, row_type, rows: st.SearchStrategy, dated_by: str):
    """The rules that insert, update (some fields), move in time (by `dated_by`, a second or a
    minute or a day) and delete rows of one table."""

    @rule(row=rows)
    @_named(f"insert_{table}")
    def insert(self, row):
        self.tables[table].insert(row)

    @precondition(lambda self: self.tables[table].rows)
    @rule(pick=picks, new=rows, fields=_fields(row_type))
    @_named(f"update_{table}")
    def update(self, pick, new, fields):
        self.tables[table].update(pick, lambda row: dataclasses.replace(row, **{f: getattr(new, f) for f in fields}))

    @precondition(lambda self: self.tables[table].rows)
    @rule(pick=picks, by=st.sampled_from(MOVES))
    @_named(f"move_{table}")
    def move(self, pick, by):
        self.tables[table].update(pick, lambda row: dataclasses.replace(row, **{dated_by: getattr(row, dated_by) + by}))

    @precondition(lambda self: self.tables[table].rows)
    @rule(pick=picks)
    @_named(f"delete_{table}")
    def delete(self, pick):
        self.tables[table].delete(pick)

    return insert, update, move, delete


class Freshness(RuleBasedStateMachine):
    def __init__(self, engine, settings):
        super().__init__()
        self.engine, self.settings = engine, settings
        self.now = START
        with engine.begin() as conn:
            empty_tables(conn)
            add_users_and_campaigns(conn)
            forget_changes(conn)
        self.tables = {
            "ledger": WrittenRows(engine, wallet_ledger, ledger_values, "L"),
            "purchases": WrittenRows(engine, purchases, purchase_values, "P"),
            "referrals": WrittenRows(engine, referrals, referral_values, "R"),
        }

    @initialize(ledger=st.lists(ledgers, max_size=12), bought=st.lists(purchase_rows, max_size=4),
                referred=st.lists(referral_rows, max_size=4))
    def some_rows(self, ledger, bought, referred):
        for name, rows in (("ledger", ledger), ("purchases", bought), ("referrals", referred)):
            for row in rows:
                self.tables[name].insert(row)

    # ---- the wallet's writers: insert, update and delete, of each table ----

    insert_ledger, update_ledger, move_ledger, delete_ledger = _writes("ledger", Ledger, ledgers, "occurred_at")
    insert_purchase, update_purchase, move_purchase, delete_purchase = _writes(
        "purchases", Purchase, purchase_rows, "paid_at")
    insert_referral, update_referral, move_referral, delete_referral = _writes(
        "referrals", Referral, referral_rows, "created_at")

    @rule(user_id=st.sampled_from(USER_IDS))
    def delete_user(self, user_id):
        """Deleted with all their rows (foreign-key cascades); the id signs up again, so that
        later rows may name it."""
        with self.engine.begin() as conn:
            conn.execute(users.delete().where(users.c.id == user_id))
        with self.engine.begin() as conn:
            conn.execute(sa.insert(users).values(**user_values(user_id)))
        self.tables["ledger"].cascade(lambda row: row.user_id == user_id)
        self.tables["purchases"].cascade(lambda row: row.user_id == user_id)
        self.tables["referrals"].cascade(lambda row: user_id in (row.referrer, row.referred))

    @rule(campaign_id=st.sampled_from(CAMPAIGNS))
    def delete_campaign(self, campaign_id):
        """Its referrals stay, with no campaign (SET NULL); the campaign is created again."""
        with self.engine.begin() as conn:
            conn.execute(promo_campaigns.delete().where(promo_campaigns.c.id == campaign_id))
        with self.engine.begin() as conn:
            conn.execute(sa.insert(promo_campaigns).values(**campaign_values(campaign_id)))
        self.tables["referrals"].cascade(lambda row: row.campaign_id == campaign_id, campaign_id=None)

    # ---- the ETL and the clock ----

    @rule(dates=st.sets(st.sampled_from([day for day in WINDOW if day <= TODAY]), min_size=1))
    def run_etl_of_past_days(self, dates):
        # The first day at the clock's start, today, is a past day too once the clock has passed
        # its midnight.
        past = sorted(day for day in dates if day < self.today())
        if past:
            etl(self.engine, self.settings, dates=past, now=self.now)

    @rule()
    def nightly_run(self):
        etl(self.engine, self.settings, now=self.now)

    @rule()
    def fold_changes_in(self):
        fold_in(self.engine, self.settings, clock=lambda: self.now, out=io.StringIO())
        stored = snapshot(self.engine)
        assert rematerialized(self.engine) == stored
        # Every partial day (today, or yesterday while its last quarter settles) caught up with the clock.
        partial = {day: row["covered_until"] for day, row in token_daily(self.engine).items()
                   if row["covered_until"] is not None}
        assert partial == {day: covered_until(day, KOLKATA, self.now) for day in partial}
        assert self.today() in token_daily(self.engine)

    @precondition(lambda self: self.now < LAST_CLOCK)
    @rule(minutes=st.integers(1, 240))
    def advance_clock(self, minutes):
        self.now = min(self.now + timedelta(minutes=minutes), LAST_CLOCK)

    def today(self) -> date:
        return local_day(self.now)

    # ---- what every step must keep ----

    @invariant()
    def every_answer_is_exact(self):
        rows = Rows(*(list(self.tables[name].rows.values()) for name in ("ledger", "purchases", "referrals")))
        for first, last in RANGES:
            assert (first, last, every_answer(self.engine, first, last)) == \
                (first, last, expected_every_answer(rows, first, last))


MACHINE_SETTINGS = hypothesis_settings(max_examples=10, stateful_step_count=18, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])


def test_answers_and_stored_days_stay_exact(db, settings):
    run_state_machine_as_test(lambda: Freshness(db, settings), settings=MACHINE_SETTINGS)
