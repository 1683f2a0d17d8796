"""The materialized rows equal a plain Python computation over random ledgers and purchases,
with timestamps crowding both sides of Kolkata's midnight (18:30:00 UTC)."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.tables import purchases, users, wallet_ledger
from tests.etl_helpers import KOLKATA, etl, token_daily
from tests.factories import empty_tables

FIRST_MIDNIGHT = datetime(2025, 10, 31, 18, 30)  # 2025-11-01 00:00 in Kolkata, in UTC
DAYS = [date(2025, 10, 31) + timedelta(days=n) for n in range(5)]
USERS = (1, 2, 3, 4)
# Offsets in seconds from FIRST_MIDNIGHT: each of the three midnights, a second either side, or anywhere.
MIDNIGHTS = [n * 86400 + delta for n in range(3) for delta in (-1, 0, 1)]
instants = st.one_of(st.sampled_from(MIDNIGHTS), st.integers(-3600, 3 * 86400 + 3600)).map(
    lambda seconds: FIRST_MIDNIGHT + timedelta(seconds=seconds))
ledger_rows = st.lists(st.fixed_dictionaries({
    "user_id": st.sampled_from(USERS),
    "token_type": st.sampled_from(("regular", "promo")),
    "direction": st.sampled_from(("credit", "debit")),
    "reason": st.sampled_from(("purchase", "chapter_generation", "referral_bonus")),
    "amount": st.integers(1, 10**6),
    "occurred_at": instants,
}), max_size=30)
purchase_rows = st.lists(st.fixed_dictionaries({
    "user_id": st.sampled_from(USERS),
    "status": st.sampled_from(("paid", "paid", "failed", "refunded")),
    "amount_inr": st.integers(1, 10**7).map(lambda paise: Decimal(paise) / 100),
    "paid_at": instants,
}), max_size=10)


def _local_day(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=UTC).astimezone(KOLKATA).date()


def _expected(ledger: list[dict], bought: list[dict]) -> dict[date, dict]:
    expected = {}
    for day in DAYS:
        rows = [r for r in ledger if _local_day(r["occurred_at"]) == day]
        credited = sum(r["amount"] for r in rows if r["direction"] == "credit")
        debited = sum(r["amount"] for r in rows if r["direction"] == "debit")
        by_feature = defaultdict(lambda: {"credited": 0, "debited": 0})
        volume = {"regular": 0, "promo": 0}
        for r in rows:
            by_feature[r["reason"]][f"{r['direction']}ed"] += r["amount"]
            volume[r["token_type"]] += r["amount"]
        if credited + debited:
            regular = (Decimal(100 * volume["regular"]) / (credited + debited)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
            composition = {"regular": float(regular), "promo": float(100 - regular)}
        else:
            composition = {"regular": 0.0, "promo": 0.0}
        expected[day] = {
            "date": day, "credited": credited, "debited": debited, "net": credited - debited,
            "revenue_in_inr": sum((p["amount_inr"] for p in bought
                                   if p["status"] == "paid" and _local_day(p["paid_at"]) == day), Decimal("0.00")),
            "active_users": len({r["user_id"] for r in rows}),
            "by_feature": dict(by_feature), "regular_vs_promo": composition,
        }
    return expected


def _write(engine, ledger: list[dict], bought: list[dict]) -> None:
    with engine.begin() as conn:
        empty_tables(conn)
        conn.execute(sa.insert(users), [
            {"id": u, "username": f"u{u}", "email": f"u{u}@example.com", "created_at": FIRST_MIDNIGHT} for u in USERS])
        if ledger:
            conn.execute(sa.insert(wallet_ledger), [
                {**r, "id": f"01PROP{n:020d}", "balance_after_regular": 0, "balance_after_promo": 0}
                for n, r in enumerate(ledger)])
        if bought:
            conn.execute(sa.insert(purchases), [
                {**p, "id": f"01PURC{n:020d}", "provider": "stripe", "tokens": 10, "created_at": FIRST_MIDNIGHT}
                for n, p in enumerate(bought)])


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ledger=ledger_rows, bought=purchase_rows)
def test_materialized_days_equal_a_plain_computation(db, settings, ledger, bought):
    _write(db, ledger, bought)

    etl(db, settings, dates=DAYS)

    columns = ("date", "credited", "debited", "net", "revenue_in_inr", "active_users", "by_feature",
               "regular_vs_promo")
    stored = {day: {c: row[c] for c in columns} for day, row in token_daily(db).items()}
    assert stored == _expected(ledger, bought)
