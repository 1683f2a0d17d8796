"""Small helpers that write wallet rows for tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from core.tables import promo_campaigns, purchases, referrals, users, wallet_ledger

_ids = itertools.count(1)


def add_user(engine, user_id: int, role: str = "user", username: str | None = None) -> None:
    username = username or f"user{user_id}"
    with engine.begin() as conn:
        conn.execute(sa.insert(users).values(
            id=user_id, username=username, email=f"{username}@example.com", role=role,
            created_at=datetime(2025, 1, 1),
        ))


def add_ledger(engine, user_id: int, direction: str, amount: int, occurred_at: str,
               token_type: str = "regular", reason: str = "purchase") -> str:
    ledger_id = f"01TEST{next(_ids):020d}"
    with engine.begin() as conn:
        conn.execute(sa.insert(wallet_ledger).values(
            id=ledger_id, user_id=user_id, token_type=token_type, direction=direction, reason=reason,
            amount=amount, balance_after_regular=0, balance_after_promo=0,
            occurred_at=datetime.fromisoformat(occurred_at),
        ))
    return ledger_id


def add_purchase(engine, user_id: int, tokens: int, amount_inr: str, paid_at: str | None,
                 status: str = "paid") -> str:
    purchase_id = f"01TESTP{next(_ids):019d}"
    at = datetime.fromisoformat(paid_at) if paid_at else datetime(2025, 1, 1)
    with engine.begin() as conn:
        conn.execute(sa.insert(purchases).values(
            id=purchase_id, user_id=user_id, provider="razorpay", tokens=tokens, amount_inr=Decimal(amount_inr),
            status=status, created_at=at, paid_at=at if paid_at else None,
        ))
    return purchase_id


def add_campaign(engine, campaign_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(promo_campaigns).values(
            id=campaign_id, name=campaign_id.title(), starts_at=datetime(2025, 1, 1),
        ))


def add_referral(engine, referrer: int, referred: int, created_at: str, status: str = "credited",
                 bonus_awarded: int = 100, campaign_id: str | None = None) -> str:
    referral_id = f"01TESTR{next(_ids):019d}"
    with engine.begin() as conn:
        conn.execute(sa.insert(referrals).values(
            id=referral_id, campaign_id=campaign_id, referrer_user_id=referrer, referred_user_id=referred,
            status=status, bonus_awarded=bonus_awarded if status == "credited" else 0,
            created_at=datetime.fromisoformat(created_at),
        ))
    return referral_id
