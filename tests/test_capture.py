"""Change capture (migration 0006): the triggers record the minute of every change that moves a
number, whoever writes it, and nothing for the changes that move none; a change on a
materialized day shows in every answer at once, and a fold-in stores it.

Times are UTC; Asia/Kolkata's midnight is 18:30 UTC.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from core.analytics import top_users
from core.etl.job import fold_in
from core.tables import analytics_changes, promo_campaigns, purchases, referrals, users, wallet_ledger
from tests.analytics_reference import KOLKATA, every_answer, expected_every_answer, read_rows
from tests.etl_helpers import NOW, etl, rematerialized, snapshot, token_daily
from tests.factories import (
    add_campaign,
    add_ledger,
    add_purchase,
    add_referral,
    add_transaction,
    add_user,
    forget_changes,
)

EPOCH = datetime(1970, 1, 1)


def _minute(utc_text: str) -> int:
    return int((datetime.fromisoformat(utc_text) - EPOCH).total_seconds() // 60)


def _captured(engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(analytics_changes.c.minute)).scalars())


def _forget_changes(engine) -> None:
    with engine.begin() as conn:
        forget_changes(conn)


def _update(engine, table: sa.Table, row_id, **values) -> None:
    with engine.begin() as conn:
        assert conn.execute(table.update().where(table.c.id == row_id).values(**values)).rowcount == 1


def _delete(engine, table: sa.Table, row_id) -> None:
    with engine.begin() as conn:
        assert conn.execute(table.delete().where(table.c.id == row_id)).rowcount == 1


@pytest.fixture
def two_users(db):
    add_user(db, 1)
    add_user(db, 2)
    _forget_changes(db)
    return db


# ---- what the triggers record -------------------------------------------------------------------

def test_ledger_insert_update_delete_mark_the_row_minute(two_users):
    db = two_users
    row = add_ledger(db, 1, "credit", 10, "2025-11-08 05:00:30")
    assert _captured(db) == {_minute("2025-11-08 05:00:00")}
    _forget_changes(db)
    _update(db, wallet_ledger, row, amount=11)
    assert _captured(db) == {_minute("2025-11-08 05:00:00")}
    _forget_changes(db)
    _delete(db, wallet_ledger, row)
    assert _captured(db) == {_minute("2025-11-08 05:00:00")}


@pytest.mark.parametrize("column, value", [
    ("amount", 11), ("direction", "debit"), ("token_type", "promo"), ("reason", "translation"), ("user_id", 2),
    # MariaDB's collation compares 'purchase' and 'Purchase' equal; the numbers by feature do not.
    ("reason", "Purchase"),
])
def test_every_column_that_moves_a_number_is_captured(two_users, column, value):
    row = add_ledger(two_users, 1, "credit", 10, "2025-11-08 05:00:30")
    _forget_changes(two_users)
    _update(two_users, wallet_ledger, row, **{column: value})
    assert _captured(two_users) == {_minute("2025-11-08 05:00:00")}


@pytest.mark.parametrize("old, new", [
    ("2025-11-08 18:29:59", "2025-11-08 18:30:00"),  # across Kolkata's midnight by one second
    ("2025-11-08 05:00:00", "2025-11-03 23:10:00"),  # five days back
])
def test_moving_a_ledger_row_marks_the_old_and_the_new_minute(two_users, old, new):
    row = add_ledger(two_users, 1, "debit", 10, old)
    _forget_changes(two_users)
    _update(two_users, wallet_ledger, row, occurred_at=datetime.fromisoformat(new))
    assert _captured(two_users) == {_minute(old), _minute(new)}


@pytest.mark.parametrize("values", [
    {"metadata": {"note": "moves no number"}}, {"reference_id": "order-17"}, {"balance_after_regular": 5},
    {"amount": 10, "reason": "chapter_generation"},  # written again as they were
])
def test_a_change_that_moves_no_number_records_nothing(two_users, values):
    row = add_transaction(two_users, 1, "2025-11-08 05:00:00", amount=10, reason="chapter_generation")
    _forget_changes(two_users)
    _update(two_users, wallet_ledger, row, **values)
    assert _captured(two_users) == set()


def test_a_purchase_counts_only_while_paid(two_users):
    db = two_users
    made = "2025-11-08 05:00:00"
    pending = add_purchase(db, 1, made, status="pending")
    _update(db, purchases, pending, status="failed")
    assert _captured(db) == set()
    _update(db, purchases, pending, status="paid", paid_at=datetime.fromisoformat(made))
    assert _captured(db) == {_minute(made)}
    _forget_changes(db)
    _update(db, purchases, pending, status="refunded")
    assert _captured(db) == {_minute(made)}
    _forget_changes(db)
    _update(db, purchases, pending, amount_inr="1.00")  # refunded: counts nowhere
    _delete(db, purchases, pending)
    assert _captured(db) == set()
    paid = add_purchase(db, 2, "2025-11-09 07:00:00")
    _update(db, purchases, paid, provider_ref="moves-no-number")
    assert _captured(db) == {_minute("2025-11-09 07:00:00")}
    _forget_changes(db)
    _delete(db, purchases, paid)
    assert _captured(db) == {_minute("2025-11-09 07:00:00")}


def test_referral_changes_are_captured(two_users):
    db = two_users
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    created = "2025-11-08 05:00:00"
    referral = add_referral(db, 1, 2, created, campaign_id="c1", status="pending")
    assert _captured(db) == {_minute(created)}
    for values in ({"status": "credited", "bonus_awarded": 50}, {"campaign_id": "c2"}):
        _forget_changes(db)
        _update(db, referrals, referral, **values)
        assert _captured(db) == {_minute(created)}
    _forget_changes(db)
    _update(db, referrals, referral, credited_at=datetime(2025, 11, 9))
    assert _captured(db) == set()


def test_deleting_a_user_marks_the_minutes_of_their_rows(two_users):
    """Foreign-key cascades fire no trigger on MariaDB: the user's own trigger marks them."""
    db = two_users
    add_user(db, 3)
    ledger_times = ["2025-11-07 18:29:59", "2025-11-08 18:30:00"]
    for at in ledger_times:
        add_ledger(db, 1, "credit", 10, at)
    add_purchase(db, 1, "2025-11-06 10:00:00")
    add_purchase(db, 1, "2025-11-05 10:00:00", status="pending")  # counts nowhere
    add_referral(db, 1, 2, "2025-11-04 10:00:00")
    add_referral(db, 3, 1, "2025-11-03 10:00:00", status="pending")
    add_ledger(db, 2, "credit", 10, "2025-11-02 10:00:00")
    _forget_changes(db)
    _delete(db, users, 1)
    assert _captured(db) == {_minute(at) for at in
                             [*ledger_times, "2025-11-06 10:00:00", "2025-11-04 10:00:00", "2025-11-03 10:00:00"]}


def test_deleting_a_campaign_marks_its_referrals_minutes(two_users):
    db = two_users
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    add_referral(db, 1, 2, "2025-11-08 05:00:00", campaign_id="c1")
    add_referral(db, 2, 1, "2025-11-07 05:00:00", campaign_id="c1", status="pending")
    add_referral(db, 1, 2, "2025-11-06 05:00:00", campaign_id="c2")
    _forget_changes(db)
    _delete(db, promo_campaigns, "c1")
    assert _captured(db) == {_minute("2025-11-08 05:00:00"), _minute("2025-11-07 05:00:00")}


# ---- what the answers see -----------------------------------------------------------------------

# Materialized: Kolkata's 2025-11-07..09; NOW is 11:30 on the 10th.
FIRST, LAST = date(2025, 11, 6), date(2025, 11, 10)
MATERIALIZED = [date(2025, 11, 7), date(2025, 11, 8), date(2025, 11, 9)]


def _wallet(db) -> dict[str, str]:
    for user_id in range(1, 5):
        add_user(db, user_id)
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    return {
        "late credit": add_ledger(db, 1, "credit", 500, "2025-11-07 18:29:59"),  # 23:59:59 on the 7th
        "spend": add_ledger(db, 2, "debit", 120, "2025-11-08 05:00:00", reason="chapter_generation"),
        "bonus": add_ledger(db, 3, "credit", 50, "2025-11-08 20:00:00", token_type="promo", reason="referral_bonus"),
        "early spend": add_ledger(db, 1, "debit", 30, "2025-11-06 20:00:00", reason="chapter_generation"),
        "paid": add_purchase(db, 1, "2025-11-07 18:29:59"),
        "pending": add_purchase(db, 2, "2025-11-08 05:00:00", status="pending"),
        "credited referral": add_referral(db, 1, 2, "2025-11-08 05:00:00", campaign_id="c1"),
        "pending referral": add_referral(db, 3, 4, "2025-11-07 10:00:00", campaign_id="c2", status="pending"),
    }


CHANGES = {
    "a late credit": lambda db, ids: add_ledger(db, 4, "credit", 100_000, "2025-11-08 09:00:00",
                                                reason="admin_adjustment"),
    "an amount corrected": lambda db, ids: _update(db, wallet_ledger, ids["spend"], amount=999),
    "a row moved across midnight": lambda db, ids: _update(
        db, wallet_ledger, ids["late credit"], occurred_at=datetime(2025, 11, 7, 18, 30)),
    "a row moved days back": lambda db, ids: _update(
        db, wallet_ledger, ids["spend"], occurred_at=datetime(2025, 11, 6, 20, 0)),
    "a row deleted": lambda db, ids: _delete(db, wallet_ledger, ids["bonus"]),
    "a reason's letter case": lambda db, ids: _update(db, wallet_ledger, ids["bonus"], reason="Referral_Bonus"),
    "a refund": lambda db, ids: _update(db, purchases, ids["paid"], status="refunded"),
    "a late payment": lambda db, ids: _update(db, purchases, ids["pending"], status="paid",
                                              paid_at=datetime(2025, 11, 8, 5, 0)),
    "a referral credited": lambda db, ids: _update(db, referrals, ids["pending referral"], status="credited",
                                                   bonus_awarded=75),
    "a referral's campaign": lambda db, ids: _update(db, referrals, ids["credited referral"], campaign_id="c2"),
    "a user deleted": lambda db, ids: _delete(db, users, 1),
    "a campaign deleted": lambda db, ids: _delete(db, promo_campaigns, "c1"),
}


def _campaigns(db) -> tuple[str, ...]:
    with db.connect() as conn:
        return tuple(conn.execute(sa.select(promo_campaigns.c.id).order_by(promo_campaigns.c.id)).scalars())


def _assert_answers_exact(db) -> None:
    campaigns = _campaigns(db)
    answers = every_answer(db, FIRST, LAST, campaigns)
    assert answers == expected_every_answer(read_rows(db), FIRST, LAST, campaigns)


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_on_a_materialized_day_is_answered_at_once_and_folded_in(db, settings, change):
    ids = _wallet(db)
    etl(db, settings, dates=MATERIALIZED)
    assert sorted(token_daily(db)) == MATERIALIZED
    campaigns = _campaigns(db)
    before = expected_every_answer(read_rows(db), FIRST, LAST, campaigns)

    CHANGES[change](db, ids)

    assert expected_every_answer(read_rows(db), FIRST, LAST, campaigns) != before  # it moved a number
    _assert_answers_exact(db)
    fold_in(db, settings, clock=lambda: NOW)
    stored = snapshot(db)
    assert rematerialized(db) == stored
    _assert_answers_exact(db)


def test_a_renamed_user_is_listed_under_the_new_name_at_once(db, settings):
    """Names are read with every answer, so a rename needs no capture."""
    _wallet(db)
    etl(db, settings, dates=MATERIALIZED)
    _update(db, users, 2, username="renamed")
    with db.connect() as conn:
        spenders = top_users(conn, FIRST, LAST, KOLKATA, metric="spend")["items"]
    assert [(item["user_id"], item["username"]) for item in spenders] == [(2, "renamed"), (1, "user1")]


@pytest.mark.parametrize("materialized", [False, True], ids=["live", "stored"])
def test_reasons_differing_only_in_letter_case_stay_apart(db, settings, materialized):
    """A feature is a reason byte for byte (README), also on MariaDB, whose collation ignores
    case: so capturing a change of letter case (above) is only worth it if the answers, live
    and stored, tell the two reasons apart."""
    add_user(db, 1)
    add_campaign(db, "c1")
    add_campaign(db, "c2")
    add_ledger(db, 1, "debit", 10, "2025-11-08 05:00:00", reason="chapter_generation")
    add_ledger(db, 1, "debit", 7, "2025-11-08 06:00:00", reason="Chapter_Generation")
    day = date(2025, 11, 8)
    if materialized:
        etl(db, settings, dates=[day])
    answers = every_answer(db, day, day)
    assert answers == expected_every_answer(read_rows(db), day, day)
