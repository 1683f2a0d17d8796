from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from core import demo_data
from core.dates import local_today, to_local_date
from core.errors import BusinessRuleViolation
from core.tables import purchases, referrals, token_authorizations, users, wallet_ledger, wallets

KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 3, 10, 12, 0, 0)


@pytest.fixture
def history(db):
    summary = demo_data.generate(db, users=60, days=30, seed=7, tz=KOLKATA, rows=3000, now=NOW)
    with db.connect() as conn:
        tables = {
            t.name: [row._asdict() for row in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in (users, wallets, wallet_ledger, purchases, referrals, token_authorizations)
        }
    return summary, tables


def test_sizes_follow_the_parameters(history):
    summary, tables = history
    assert summary.users == 61 == len(tables["users"])
    assert 2700 <= summary.ledger_rows == len(tables["wallet_ledger"]) <= 3300
    assert [u["role"] for u in tables["users"]].count("admin") == 1


def test_history_covers_the_days_and_ends_today(history):
    summary, tables = history
    days = {to_local_date(row["occurred_at"], KOLKATA) for row in tables["wallet_ledger"]}
    assert max(days) == local_today(KOLKATA, NOW)
    assert summary.last_day == str(local_today(KOLKATA, NOW))
    assert min(days).isoformat() >= summary.first_day
    assert max(row["occurred_at"] for row in tables["wallet_ledger"]) <= NOW


def test_balances_reconcile_with_the_ledger(history):
    _, tables = history
    balance = defaultdict(lambda: {"regular": 0, "promo": 0})
    for row in tables["wallet_ledger"]:  # ordered by id: ids increase with time
        sign = 1 if row["direction"] == "credit" else -1
        balance[row["user_id"]][row["token_type"]] += sign * row["amount"]
        assert balance[row["user_id"]]["regular"] >= 0 and balance[row["user_id"]]["promo"] >= 0
        assert row["balance_after_regular"] == balance[row["user_id"]]["regular"]
        assert row["balance_after_promo"] == balance[row["user_id"]]["promo"]
        assert row["amount"] > 0
    for wallet in tables["wallets"]:
        assert wallet["balance_regular"] == balance[wallet["user_id"]]["regular"]
        assert wallet["balance_promo"] == balance[wallet["user_id"]]["promo"]


def test_ledger_time_order_agrees_with_id_order(history):
    _, tables = history
    times = [row["occurred_at"] for row in tables["wallet_ledger"]]
    assert times == sorted(times)


def test_paid_purchases_credit_their_tokens(history):
    _, tables = history
    credits = {r["reference_id"]: r for r in tables["wallet_ledger"] if r["reason"] == "purchase"}
    paid = [p for p in tables["purchases"] if p["status"] == "paid"]
    assert paid and len(credits) == len(paid)
    for purchase in paid:
        credit = credits[purchase["id"]]
        assert (credit["amount"], credit["token_type"], credit["direction"]) == (purchase["tokens"], "regular", "credit")
        assert credit["occurred_at"] == purchase["paid_at"] >= purchase["created_at"]
        assert purchase["amount_inr"] > Decimal("0")
    assert all(p["paid_at"] is None for p in tables["purchases"] if p["status"] != "paid")


def test_credited_referrals_pay_their_bonus(history):
    _, tables = history
    bonuses = {r["reference_id"]: r for r in tables["wallet_ledger"] if r["reason"] == "referral_bonus"}
    credited = [r for r in tables["referrals"] if r["status"] == "credited"]
    assert credited and len(bonuses) == len(credited)
    for referral in credited:
        bonus = bonuses[referral["id"]]
        assert (bonus["user_id"], bonus["amount"], bonus["token_type"]) == (
            referral["referrer_user_id"], referral["bonus_awarded"], "promo")
    assert all(r["bonus_awarded"] == 0 for r in tables["referrals"] if r["status"] == "pending")


def test_captured_authorizations_debit_and_voided_ones_do_not(history):
    _, tables = history
    debits = {r["reference_id"]: r for r in tables["wallet_ledger"] if r["direction"] == "debit"}
    for authorization in tables["token_authorizations"]:
        if authorization["status"] == "captured":
            debit = debits.pop(authorization["id"])
            assert debit["amount"] == authorization["captured_amount"] <= authorization["amount"]
            assert debit["reason"] == authorization["feature"]
        else:
            assert authorization["id"] not in debits
    assert debits == {}
    assert {a["status"] for a in tables["token_authorizations"]} >= {"captured", "voided"}


def test_the_same_seed_gives_the_same_history(db, history):
    _, first = history
    demo_data.generate(db, users=60, days=30, seed=7, tz=KOLKATA, rows=3000, now=NOW, replace=True)
    with db.connect() as conn:
        again = [row._asdict() for row in conn.execute(sa.select(wallet_ledger).order_by(wallet_ledger.c.id))]
    assert again == first["wallet_ledger"]


def test_existing_data_is_not_overwritten_by_accident(db, history):
    with pytest.raises(BusinessRuleViolation, match="--replace"):
        demo_data.generate(db, users=5, days=2, seed=1, tz=KOLKATA)


def test_a_new_history_leaves_no_stored_day_and_no_pending_change(db):
    from core.tables import analytics_changes, analytics_token_daily

    demo_data.generate(db, users=5, days=3, seed=1, tz=KOLKATA, rows=100, now=NOW)
    with db.begin() as conn:  # a day stored from the first history
        conn.execute(analytics_token_daily.insert().values(date=NOW.date(), by_feature={}, regular_vs_promo={}))
    demo_data.generate(db, users=5, days=3, seed=2, tz=KOLKATA, rows=100, now=NOW, replace=True)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_token_daily)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_changes)).scalar() == 0
