from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pyroaring import BitMap

from core.aggregates import composition
from core.materialize import materialize_day
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_users,
    analytics_token_daily,
    analytics_user_daily,
    analytics_user_monthly,
)
from tests.factories import add_ledger, add_user

KOLKATA = ZoneInfo("Asia/Kolkata")


def _rows(engine, table, **where):
    with engine.connect() as conn:
        query = sa.select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return [r._asdict() for r in conn.execute(query.order_by(*table.primary_key.columns))]


def test_a_day_is_its_local_calendar_day(db):
    for user in (1, 2, 3):
        add_user(db, user)
    # 2025-11-01 in Kolkata is 2025-10-31 18:30 .. 2025-11-01 18:30 UTC.
    add_ledger(db, 1, "credit", 1000, "2025-10-31 18:30:00", reason="purchase")
    add_ledger(db, 1, "debit", 500, "2025-11-01 11:00:00", reason="chapter_generation")
    add_ledger(db, 2, "credit", 100, "2025-11-01 18:29:59", token_type="promo", reason="referral_bonus")
    add_ledger(db, 3, "credit", 7, "2025-10-31 18:29:59", reason="purchase")  # the day before
    add_ledger(db, 3, "credit", 9, "2025-11-01 18:30:00", reason="purchase")  # the day after

    materialize_day(db, date(2025, 11, 1), KOLKATA)

    [row] = _rows(db, analytics_token_daily)
    assert (row["date"], row["credited"], row["debited"], row["net"], row["active_users"]) == (
        date(2025, 11, 1), 1100, 500, 600, 2)
    assert row["by_feature"] == {
        "chapter_generation": {"credited": 0, "debited": 500},
        "purchase": {"credited": 1000, "debited": 0},
        "referral_bonus": {"credited": 100, "debited": 0},
    }
    assert row["regular_vs_promo"] == {"regular": 93.75, "promo": 6.25}
    [users] = _rows(db, analytics_daily_users)
    assert BitMap.deserialize(users["users"]) == BitMap([1, 2])


def test_rerunning_a_changed_day_keeps_the_month_equal_to_its_days(db):
    for user in (1, 2):
        add_user(db, user)
    add_ledger(db, 1, "credit", 10, "2025-11-02 06:00:00")
    add_ledger(db, 2, "debit", 4, "2025-11-03 06:00:00", reason="translation")
    materialize_day(db, date(2025, 11, 2), KOLKATA)
    materialize_day(db, date(2025, 11, 3), KOLKATA)
    add_ledger(db, 1, "debit", 3, "2025-11-03 07:00:00", reason="translation")  # arrives late
    materialize_day(db, date(2025, 11, 3), KOLKATA)
    materialize_day(db, date(2025, 11, 3), KOLKATA)

    sums = defaultdict(lambda: [0, 0])
    for row in _rows(db, analytics_user_daily):
        sums[row["user_id"]][0] += row["credited"]
        sums[row["user_id"]][1] += row["debited"]
    monthly = {r["user_id"]: [r["credited"], r["debited"]] for r in _rows(db, analytics_user_monthly)}
    assert monthly == dict(sums) == {1: [10, 3], 2: [0, 4]}
    assert len(_rows(db, analytics_daily_breakdown, date=date(2025, 11, 3))) == 1


def test_an_empty_day_gets_a_row_of_zeros(db):
    materialize_day(db, date(2025, 11, 5), KOLKATA)
    [row] = _rows(db, analytics_token_daily)
    assert (row["credited"], row["debited"], row["active_users"], row["by_feature"]) == (0, 0, 0, {})
    assert row["regular_vs_promo"] == {"regular": 0.0, "promo": 0.0}


def test_composition_sums_to_exactly_one_hundred():
    assert composition(1, 2) == {"regular": 33.33, "promo": 66.67}
    assert composition(2, 1) == {"regular": 66.67, "promo": 33.33}
    assert composition(0, 5) == {"regular": 0.0, "promo": 100.0}
    assert composition(0, 0) == {"regular": 0.0, "promo": 0.0}


def test_numbers_are_inserted_in_chunks_and_anything_else_is_refused(db):
    import pytest

    from core.dialect import insert_numbers

    rows = [(date(2025, 11, 1), user_id, 10 * user_id, 2**62 + user_id) for user_id in range(1, 8)]
    with db.begin() as conn:
        insert_numbers(conn, analytics_user_daily, ["date", "user_id", "credited", "debited"], rows, chunk=3)
    stored = [(r["date"], r["user_id"], r["credited"], r["debited"]) for r in _rows(db, analytics_user_daily)]
    assert stored == rows
    for bad in ("1); DROP TABLE users; --", True, 1.5, None):
        with pytest.raises(TypeError), db.begin() as conn:
            insert_numbers(conn, analytics_user_daily, ["date", "user_id", "credited", "debited"],
                           [(date(2025, 11, 2), 1, bad, 0)])


def test_a_day_whose_data_did_not_change_is_not_rewritten_and_a_rewrite_keeps_created_at(db):
    add_user(db, 1)
    add_ledger(db, 1, "credit", 10, "2025-11-02 06:00:00")
    day = date(2025, 11, 2)
    materialize_day(db, day, KOLKATA)
    [first] = _rows(db, analytics_token_daily)
    with db.begin() as conn:  # as if stored an hour ago, so a rewrite now moves updated_at
        conn.execute(analytics_token_daily.update().values(
            created_at=first["created_at"] - timedelta(hours=1), updated_at=first["updated_at"] - timedelta(hours=1)))
    [stored] = _rows(db, analytics_token_daily)

    materialize_day(db, day, KOLKATA)  # the same data
    assert _rows(db, analytics_token_daily) == [stored]

    add_ledger(db, 1, "credit", 5, "2025-11-02 07:00:00")
    materialize_day(db, day, KOLKATA)
    [rewritten] = _rows(db, analytics_token_daily)
    assert rewritten["credited"] == 15
    assert rewritten["created_at"] == stored["created_at"]
    assert rewritten["updated_at"] > stored["updated_at"]
