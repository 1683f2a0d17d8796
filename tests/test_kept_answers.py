"""Answers kept between requests (core.analytics.answers): one is reused only while nothing it
reads has changed, whichever way the change came (a writer, a fold-in, the ETL, an edit behind
the capture's back, a transaction that commits after a later one)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from core.analytics import answer, answers, token_overview, top_users
from core.dialect import is_sqlite
from core.etl.job import fold_in
from core.tables import analytics_changes_generation, analytics_token_daily, wallet_ledger
from tests.etl_helpers import KOLKATA, NOW, etl, token_daily
from tests.factories import add_ledger, add_user, forget_changes

FIRST, TODAY = date(2025, 11, 4), date(2025, 11, 10)  # NOW is 11:30 on the 10th in Kolkata


def _overview(db) -> dict:
    return answer(db, token_overview, FIRST, TODAY, KOLKATA)


def _generation(db) -> int:
    with db.connect() as conn:
        return conn.execute(sa.select(analytics_changes_generation.c.generation)).scalar_one()


@pytest.fixture
def stored_week(db, settings):
    """Two users' rows over the week, the past days stored and today stored up to 05:45 UTC."""
    add_user(db, 1)
    add_user(db, 2)
    for day in range(4, 11):
        add_ledger(db, 1, "credit", 100, f"2025-11-{day:02d} 04:00:00")
    add_ledger(db, 2, "debit", 30, "2025-11-10 05:00:00")
    etl(db, settings, dates=[date(2025, 11, day) for day in range(4, 10)])
    fold_in(db, settings, clock=lambda: NOW)
    assert token_daily(db)[TODAY]["covered_until"] == datetime(2025, 11, 10, 5, 45)
    with db.begin() as conn:
        forget_changes(conn)
    return db


def test_an_answer_is_kept_while_nothing_changes(stored_week):
    first = _overview(stored_week)
    assert first["credited"] == 700 and first["debited"] == 30
    assert _overview(stored_week) is first


def test_a_committed_row_is_answered_at_once(stored_week):
    kept = _overview(stored_week)
    add_ledger(stored_week, 2, "debit", 5, "2025-11-06 10:00:00")  # a stored day: dirty now
    assert _overview(stored_week)["debited"] == kept["debited"] + 5


def test_a_change_the_fold_in_drops_still_reaches_the_answer(stored_week, settings):
    """A row in today's part that is not stored yet is answered from the ledger, and the fold-in
    drops its change (it marks no stored part): the log is as empty as before, but the deletion
    was counted."""
    kept = _overview(stored_week)
    generation = _generation(stored_week)
    add_ledger(stored_week, 1, "credit", 7, "2025-11-10 05:50:00")
    fold_in(stored_week, settings, clock=lambda: NOW)
    with stored_week.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM analytics_changes")).scalar_one() == 0
    assert _generation(stored_week) == generation + 1
    assert _overview(stored_week)["credited"] == kept["credited"] + 7


def test_a_day_stored_anew_is_read_anew(stored_week):
    """An edit no writer makes (verify's drift): the stored figures are part of what is checked."""
    kept = _overview(stored_week)
    with stored_week.begin() as conn:
        conn.execute(analytics_token_daily.update().where(analytics_token_daily.c.date == date(2025, 11, 5))
                     .values(credited=1))
    assert _overview(stored_week)["credited"] == kept["credited"] - 99


def test_a_transaction_that_commits_after_a_later_one_is_not_missed(stored_week):
    """Change ids are taken at insert and committed in any order: the highest id can stay the
    same while a lower one appears. The count of pending changes moves either way."""
    if is_sqlite(stored_week):
        pytest.skip("SQLite has one writer at a time")
    kept = _overview(stored_week)
    earlier = stored_week.connect()
    try:
        earlier.begin()
        earlier.execute(sa.insert(wallet_ledger).values(
            id="01EARLIER", user_id=1, token_type="regular", direction="credit", reason="purchase", amount=11,
            balance_after_regular=0, balance_after_promo=0, occurred_at=datetime(2025, 11, 7, 4)))
        add_ledger(stored_week, 1, "credit", 13, "2025-11-08 04:00:00")  # a later id, committed first
        assert _overview(stored_week)["credited"] == kept["credited"] + 13
        earlier.commit()
    finally:
        earlier.close()
    assert _overview(stored_week)["credited"] == kept["credited"] + 24


def test_with_a_backlog_answers_are_computed_afresh(stored_week, monkeypatch):
    monkeypatch.setattr(answers, "PENDING_CAP", 2)
    for minute in range(3):
        add_ledger(stored_week, 2, "debit", 1, f"2025-11-09 10:0{minute}:00")
    first = _overview(stored_week)
    again = _overview(stored_week)
    assert again == first and again is not first


def test_answers_that_name_users_are_never_kept(stored_week):
    """Names are not captured (a rename moves no number), so top users is computed each time."""
    first = answer(stored_week, top_users, FIRST, TODAY, KOLKATA, metric="earn", limit=10)
    assert answer(stored_week, top_users, FIRST, TODAY, KOLKATA, metric="earn", limit=10) is not first


def test_concurrent_requests_see_every_row_committed_before_they_began(stored_week):
    """Readers share validator reads and kept answers while a writer commits: each answer holds
    at least the rows committed before its request began, and never a row not yet written."""
    base = _overview(stored_week)["credited"]
    committed = 0
    writing = threading.Event()
    seen: list[tuple[int, int]] = []

    def write():
        nonlocal committed
        for minute in range(40):
            add_ledger(stored_week, 1, "credit", 1, f"2025-11-08 10:{minute:02d}:00")
            committed += 1
            time.sleep(0.005)  # readers ask between commits as well as during them
        writing.set()

    def ask():
        while not writing.is_set():
            before = committed
            seen.append((before, _overview(stored_week)["credited"] - base))

    threads = [threading.Thread(target=write), *(threading.Thread(target=ask) for _ in range(4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(seen) > 40
    assert all(before <= credited <= 40 for before, credited in seen), [s for s in seen if not s[0] <= s[1] <= 40]
    assert _overview(stored_week)["credited"] - base == 40
