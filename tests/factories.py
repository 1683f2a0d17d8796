"""Small helpers that write wallet rows for tests."""

from __future__ import annotations

import itertools
from datetime import datetime

import sqlalchemy as sa

from core.tables import (
    analytics_changes,
    analytics_changes_generation,
    analytics_exports,
    metadata,
    promo_campaigns,
    purchases,
    referrals,
    token_authorizations,
    users,
    wallet_ledger,
    wallets,
)

_ids = itertools.count(1)


def forget_changes(conn) -> None:
    """Empty the change log the way a fold-in deletes from it: counted in
    analytics_changes_generation, so no answer a process keeps (core.analytics.answers) outlives it."""
    conn.execute(analytics_changes.delete())
    generation = analytics_changes_generation.c.generation
    conn.execute(analytics_changes_generation.update().values(generation=generation + 1))


def empty_tables(conn, keep=lambda table: False) -> None:
    """Delete every table's rows (but those `keep` names, and the generation's), the change log
    last (the deletes are captured too)."""
    for table in reversed(metadata.sorted_tables):
        if table is not analytics_changes_generation and not keep(table):
            conn.execute(table.delete())
    forget_changes(conn)


def add_user(engine, user_id: int, role: str = "user", username: str | None = None,
             created_at: datetime = datetime(2025, 1, 1)) -> None:
    username = username or f"user{user_id}"
    with engine.begin() as conn:
        conn.execute(sa.insert(users).values(
            id=user_id, username=username, email=f"{username}@example.com", role=role,
            created_at=created_at,
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


def _insert(engine, table, **values) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table).values(**values))


def add_transaction(engine, user_id: int, occurred_at: str, *, direction: str = "debit", amount: int = 10,
                    token_type: str = "regular", reason: str = "chapter_generation",
                    reference_id: str | None = None, metadata=None) -> str:
    """A ledger row with every exported column set (add_ledger leaves some at their defaults)."""
    ledger_id = f"01LEDG{next(_ids):020d}"
    _insert(engine, wallet_ledger, id=ledger_id, user_id=user_id, token_type=token_type, direction=direction,
            reason=reason, amount=amount, balance_after_regular=900, balance_after_promo=50,
            reference_id=reference_id, metadata=metadata, occurred_at=datetime.fromisoformat(occurred_at))
    return ledger_id


def add_wallet(engine, user_id: int, regular: int, promo: int) -> None:
    _insert(engine, wallets, user_id=user_id, balance_regular=regular, balance_promo=promo,
            updated_at=datetime(2025, 1, 1))


def add_purchase(engine, user_id: int, created_at: str, *, status: str = "paid", provider: str = "razorpay",
                 tokens: int = 500, amount_inr: str = "449.00") -> str:
    purchase_id = f"01PURC{next(_ids):020d}"
    created = datetime.fromisoformat(created_at)
    _insert(engine, purchases, id=purchase_id, user_id=user_id, provider=provider, provider_ref=f"ref_{purchase_id}",
            tokens=tokens, amount_inr=amount_inr, status=status, created_at=created,
            paid_at=created if status == "paid" else None)
    return purchase_id


def add_campaign(engine, campaign_id: str, name: str | None = None) -> None:
    _insert(engine, promo_campaigns, id=campaign_id, name=name or campaign_id.title(), starts_at=datetime(2025, 1, 1))


def add_referral(engine, referrer: int, referred: int, created_at: str, *, campaign_id: str | None = None,
                 status: str = "credited", bonus: int = 50) -> str:
    referral_id = f"01REFE{next(_ids):020d}"
    created = datetime.fromisoformat(created_at)
    _insert(engine, referrals, id=referral_id, campaign_id=campaign_id, referrer_user_id=referrer,
            referred_user_id=referred, status=status, bonus_awarded=bonus if status == "credited" else 0,
            created_at=created, credited_at=created if status == "credited" else None)
    return referral_id


def add_authorization(engine, user_id: int, created_at: str, *, feature: str = "chapter_generation",
                      status: str = "captured", amount: int = 100) -> str:
    authorization_id = f"01AUTH{next(_ids):020d}"
    created = datetime.fromisoformat(created_at)
    _insert(engine, token_authorizations, id=authorization_id, user_id=user_id, feature=feature, amount=amount,
            captured_amount=amount if status == "captured" else None, status=status, created_at=created,
            expires_at=None, captured_at=created if status == "captured" else None)
    return authorization_id


def add_export(engine, user_id: int, status: str, expires_at: datetime | None) -> str:
    export_id = f"01EXPO{next(_ids):020d}"
    _insert(engine, analytics_exports, id=export_id, user_id=user_id, dataset="transactions", status=status,
            expires_at=expires_at, created_at=datetime(2025, 1, 1))
    return export_id
