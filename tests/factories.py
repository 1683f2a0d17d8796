"""Small helpers that write wallet rows for tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from core.tables import analytics_exports, purchases, users, wallet_ledger

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


def add_purchase(engine, user_id: int, amount_inr: str, tokens: int, paid_at: str | None,
                 status: str = "paid") -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(purchases).values(
            id=f"01PURC{next(_ids):020d}", user_id=user_id, provider="razorpay", tokens=tokens,
            amount_inr=Decimal(amount_inr), status=status, created_at=datetime(2025, 1, 1),
            paid_at=None if paid_at is None else datetime.fromisoformat(paid_at),
        ))


def add_export(engine, user_id: int, status: str, expires_at: datetime | None) -> str:
    export_id = f"01EXPO{next(_ids):020d}"
    with engine.begin() as conn:
        conn.execute(sa.insert(analytics_exports).values(
            id=export_id, user_id=user_id, dataset="transactions", status=status, expires_at=expires_at,
            created_at=datetime(2025, 1, 1),
        ))
    return export_id
