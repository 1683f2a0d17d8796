"""Every analytics answer computed in plain Python over the base rows: the reference the
property, capture and state-machine tests compare core.analytics with.

Users are those `add_users` writes (username `user{id}`), days are local days of Asia/Kolkata.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core import analytics
from core.aggregates import composition
from core.tables import promo_campaigns, purchases, referrals, users, wallet_ledger

KOLKATA = ZoneInfo("Asia/Kolkata")
USER_IDS = range(1, 7)
REASONS = ("purchase", "chapter_generation", "referral_bonus")
CAMPAIGNS = ("c1", "c2")
METRICS = ("spend", "earn", "net")
GRANULARITIES = ("daily", "weekly", "monthly")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Ledger:
    user_id: int
    token_type: str
    direction: str
    reason: str
    amount: int
    occurred_at: datetime


@dataclass(frozen=True)
class Purchase:
    user_id: int
    tokens: int
    amount_inr: Decimal
    status: str
    # When it was made; its paid_at too while it is paid or refunded (purchase_values).
    paid_at: datetime


@dataclass(frozen=True)
class Referral:
    referrer: int
    referred: int
    campaign_id: str | None
    status: str
    bonus_awarded: int
    created_at: datetime


@dataclass(frozen=True)
class Rows:
    ledger: list[Ledger]
    purchases: list[Purchase]
    referrals: list[Referral]


def local_day(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=UTC).astimezone(KOLKATA).date()


def utc(day: date, local_time: time) -> datetime:
    """The naive-UTC instant of a local time of a local day."""
    return datetime.combine(day, local_time, tzinfo=KOLKATA).astimezone(UTC).replace(tzinfo=None)


# ---- writing and reading the base rows ----------------------------------------------------------

def user_values(user_id: int) -> dict:
    return {"id": user_id, "username": f"user{user_id}", "email": f"user{user_id}@example.com",
            "created_at": datetime(2025, 1, 1)}


def campaign_values(campaign_id: str) -> dict:
    return {"id": campaign_id, "name": campaign_id, "starts_at": datetime(2025, 1, 1)}


def add_users_and_campaigns(conn) -> None:
    conn.execute(sa.insert(users), [user_values(u) for u in USER_IDS])
    conn.execute(sa.insert(promo_campaigns), [campaign_values(c) for c in CAMPAIGNS])


def ledger_values(row_id: str, r: Ledger) -> dict:
    return {"id": row_id, "user_id": r.user_id, "token_type": r.token_type, "direction": r.direction,
            "reason": r.reason, "amount": r.amount, "occurred_at": r.occurred_at}


def purchase_values(row_id: str, p: Purchase) -> dict:
    return {"id": row_id, "user_id": p.user_id, "provider": "stripe", "tokens": p.tokens,
            "amount_inr": p.amount_inr, "status": p.status, "created_at": p.paid_at,
            "paid_at": p.paid_at if p.status in ("paid", "refunded") else None}


def referral_values(row_id: str, r: Referral) -> dict:
    return {"id": row_id, "campaign_id": r.campaign_id, "referrer_user_id": r.referrer,
            "referred_user_id": r.referred, "status": r.status, "bonus_awarded": r.bonus_awarded,
            "created_at": r.created_at}


def read_rows(engine) -> Rows:
    """The base rows as they are now."""
    with engine.connect() as conn:
        ledger = [Ledger(*row) for row in conn.execute(sa.select(
            wallet_ledger.c.user_id, wallet_ledger.c.token_type, wallet_ledger.c.direction, wallet_ledger.c.reason,
            wallet_ledger.c.amount, wallet_ledger.c.occurred_at))]
        bought = [Purchase(user_id, tokens, Decimal(amount), status, paid_at or created_at)
                  for user_id, tokens, amount, status, paid_at, created_at in conn.execute(sa.select(
                      purchases.c.user_id, purchases.c.tokens, purchases.c.amount_inr, purchases.c.status,
                      purchases.c.paid_at, purchases.c.created_at))]
        referred = [Referral(*row) for row in conn.execute(sa.select(
            referrals.c.referrer_user_id, referrals.c.referred_user_id, referrals.c.campaign_id, referrals.c.status,
            referrals.c.bonus_awarded, referrals.c.created_at))]
    return Rows(ledger, bought, referred)


# ---- plain Python over the rows -----------------------------------------------------------------

def _ledger_in(rows: Rows, first: date, last: date) -> list[Ledger]:
    return [r for r in rows.ledger if first <= local_day(r.occurred_at) <= last]


def _paid_in(rows: Rows, first: date, last: date) -> list[Purchase]:
    return [p for p in rows.purchases if p.status == "paid" and first <= local_day(p.paid_at) <= last]


def _kpis(ledger: list[Ledger], revenue: Decimal) -> dict:
    credited = sum(r.amount for r in ledger if r.direction == "credit")
    debited = sum(r.amount for r in ledger if r.direction == "debit")
    return {"credited": credited, "debited": debited, "net": credited - debited, "revenue_in_inr": revenue,
            "active_users": len({r.user_id for r in ledger})}


def expected_overview(rows: Rows, first: date, last: date, feature=None, token_type=None) -> dict:
    ledger = [r for r in _ledger_in(rows, first, last)
              if feature in (None, r.reason) and token_type in (None, r.token_type)]
    revenue = Decimal(0)
    if feature in (None, "purchase") and token_type in (None, "regular"):
        revenue = sum((p.amount_inr for p in _paid_in(rows, first, last)), Decimal(0))
    return _kpis(ledger, revenue)


def _label(day: date, granularity: str) -> date:
    return {"daily": day, "weekly": day - timedelta(days=day.weekday()), "monthly": day.replace(day=1)}[granularity]


def expected_trend(rows: Rows, first: date, last: date, granularity: str) -> dict:
    days_of = defaultdict(list)
    day = first
    while day <= last:
        days_of[_label(day, granularity)].append(day)
        day += timedelta(days=1)
    return {"series": [
        {"date": label.isoformat(), **expected_overview(rows, min(days), max(days))}
        for label, days in sorted(days_of.items())
    ]}


def expected_by_feature(rows: Rows, first: date, last: date) -> dict:
    sums = defaultdict(lambda: [0, 0])
    for r in _ledger_in(rows, first, last):
        sums[r.reason][r.direction == "debit"] += r.amount
    return {"items": [{"feature": f, "credited": c, "debited": d} for f, (c, d) in sorted(sums.items())]}


def expected_composition(rows: Rows, first: date, last: date) -> dict:
    volume = defaultdict(int)
    for r in _ledger_in(rows, first, last):
        volume[r.token_type] += r.amount
    return composition(volume["regular"], volume["promo"])


def expected_top_users(rows: Rows, first: date, last: date, metric: str, limit: int) -> dict:
    sums = defaultdict(lambda: [0, 0])
    for r in _ledger_in(rows, first, last):
        sums[r.user_id][r.direction == "debit"] += r.amount
    values = {u: {"spend": d, "earn": c, "net": c - d}[metric] for u, (c, d) in sums.items()}
    ranked = sorted((u for u, v in values.items() if metric == "net" or v > 0), key=lambda u: (-values[u], u))
    return {"items": [{"user_id": u, "username": f"user{u}", "email": f"user{u}@example.com", metric: values[u]}
                      for u in ranked[:limit]]}


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_purchases(rows: Rows, first: date, last: date) -> dict:
    paid = _paid_in(rows, first, last)
    count, tokens = len(paid), sum(p.tokens for p in paid)
    revenue = sum((p.amount_inr for p in paid), Decimal(0))
    return {"total_purchases": count, "total_tokens": tokens, "total_revenue": revenue,
            "avg_tokens_per_purchase": _round(Decimal(tokens) / count) if count else 0,
            "avg_revenue_per_purchase": _round(revenue / count) if count else 0,
            "unique_buyers": len({p.user_id for p in paid})}


def expected_promotions(rows: Rows, first: date, last: date, campaign_id: str | None) -> dict:
    created = [r for r in rows.referrals if first <= local_day(r.created_at) <= last
               and campaign_id in (None, r.campaign_id)]
    successful = [r for r in created if r.status == "credited"]
    return {"total_referrers": len({r.referrer for r in created}), "total_referrals": len(created),
            "successful_referrals": len(successful),
            "total_bonus_awarded": sum(r.bonus_awarded for r in successful),
            "conversion_rate": _round(Decimal(100 * len(successful)) / len(created)) if created else 0}


# ---- every question at once ---------------------------------------------------------------------

def every_answer(engine, first: date, last: date, campaigns=CAMPAIGNS) -> dict:
    """What core.analytics answers to every question over [first, last], as the routes ask it
    (through analytics.answer, which keeps answers; top users unlimited;
    promotions of all and of each of `campaigns`, which must exist)."""
    def ask(question, **options):
        return analytics.answer(engine, question, first, last, KOLKATA, **options)

    return {
        "overview": ask(analytics.token_overview),
        **{f"overview of {feature}": ask(analytics.token_overview, feature=feature) for feature in REASONS},
        "overview of promo": ask(analytics.token_overview, token_type="promo"),
        **{f"trend {g}": ask(analytics.token_trend, granularity=g) for g in GRANULARITIES},
        "by feature": ask(analytics.tokens_by_feature),
        "composition": ask(analytics.token_composition),
        **{f"top {metric}": ask(analytics.top_users, metric=metric, limit=len(USER_IDS)) for metric in METRICS},
        "purchases": ask(analytics.purchase_analytics),
        **{f"promotions of {c}": ask(analytics.promotion_analytics, campaign_id=c) for c in (None, *campaigns)},
    }


def expected_every_answer(rows: Rows, first: date, last: date, campaigns=CAMPAIGNS) -> dict:
    """every_answer, computed in plain Python over `rows`."""
    span = (rows, first, last)
    return {
        "overview": expected_overview(*span),
        **{f"overview of {feature}": expected_overview(*span, feature=feature) for feature in REASONS},
        "overview of promo": expected_overview(*span, token_type="promo"),
        **{f"trend {g}": expected_trend(*span, g) for g in GRANULARITIES},
        "by feature": expected_by_feature(*span),
        "composition": expected_composition(*span),
        **{f"top {metric}": expected_top_users(*span, metric, len(USER_IDS)) for metric in METRICS},
        "purchases": expected_purchases(*span),
        **{f"promotions of {c}": expected_promotions(*span, c) for c in (None, *campaigns)},
    }
