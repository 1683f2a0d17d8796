"""Property tests: every analytics answer equals a plain Python computation over the rows,
whichever days happen to be materialized (none, some, all), on MariaDB and SQLite.

Rows fall on local days of a window around February 2025 (so ranges can hold a whole month,
read from analytics_user_monthly, and partial months at both ends), many of them exactly at
local midnight or a second before it (Asia/Kolkata: 18:30:00 and 18:29:59 UTC).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import analytics
from core.aggregates import composition
from core.materialize import materialize_day
from core.tables import (
    metadata,
    promo_campaigns,
    purchases,
    referrals,
    users,
    wallet_ledger,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
WINDOW_FIRST, WINDOW_LAST = date(2025, 1, 27), date(2025, 3, 4)
WINDOW = [WINDOW_FIRST + timedelta(days=n) for n in range((WINDOW_LAST - WINDOW_FIRST).days + 1)]
USER_IDS = range(1, 7)
REASONS = ("purchase", "chapter_generation", "referral_bonus")
CAMPAIGNS = ("c1", "c2")
CENT = Decimal("0.01")
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _utc(local_day: date, local_time: time) -> datetime:
    return datetime.combine(local_day, local_time, tzinfo=KOLKATA).astimezone(UTC).replace(tzinfo=None)


def _local_day(utc_naive: datetime) -> date:
    return utc_naive.replace(tzinfo=UTC).astimezone(KOLKATA).date()


local_times = st.one_of(
    st.sampled_from([time(0, 0, 0), time(23, 59, 59)]),  # 18:30:00 and 18:29:59 UTC
    st.times().map(lambda t: t.replace(microsecond=0)),
)
timestamps = st.builds(_utc, st.sampled_from(WINDOW), local_times)


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
class World:
    ledger: list[Ledger]
    purchases: list[Purchase]
    referrals: list[Referral]
    materialized: frozenset[date]
    first: date
    last: date


user_ids = st.sampled_from(USER_IDS)
ledgers = st.builds(Ledger, user_ids, st.sampled_from(["regular", "promo"]), st.sampled_from(["credit", "debit"]),
                    st.sampled_from(REASONS), st.integers(1, 10_000), timestamps)
purchase_rows = st.builds(Purchase, user_ids, st.integers(1, 5000),
                          st.integers(1, 99_999).map(lambda cents: Decimal(cents) / 100),
                          st.sampled_from(["paid", "paid", "failed", "pending"]), timestamps)
referral_rows = st.builds(Referral, user_ids, user_ids, st.sampled_from([None, *CAMPAIGNS]),
                          st.sampled_from(["pending", "credited"]), st.integers(0, 500), timestamps)
any_range = st.tuples(st.sampled_from(WINDOW), st.integers(0, 40))
# Ranges that hold all of February, with partial months on either side or not.
month_covering_range = st.tuples(
    st.sampled_from([WINDOW_FIRST + timedelta(days=n) for n in range(6)]), st.integers(31, 36)
)


@st.composite
def worlds(draw) -> World:
    first, length = draw(st.one_of(any_range, month_covering_range))
    return World(
        ledger=draw(st.lists(ledgers, max_size=30)),
        purchases=draw(st.lists(purchase_rows, max_size=8)),
        referrals=draw(st.lists(referral_rows, max_size=8)),
        materialized=draw(st.frozensets(st.sampled_from(WINDOW), max_size=len(WINDOW))),
        first=first,
        last=first + timedelta(days=length),
    )


def _load(engine, world: World) -> None:
    """Empty every table, write the world's rows, then materialize its chosen days."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(sa.insert(users), [
            {"id": u, "username": f"user{u}", "email": f"user{u}@example.com", "created_at": datetime(2025, 1, 1)}
            for u in USER_IDS
        ])
        conn.execute(sa.insert(promo_campaigns), [
            {"id": c, "name": c, "starts_at": datetime(2025, 1, 1)} for c in CAMPAIGNS
        ])
        if world.ledger:
            conn.execute(sa.insert(wallet_ledger), [
                {"id": f"L{n:025d}", "user_id": r.user_id, "token_type": r.token_type, "direction": r.direction,
                 "reason": r.reason, "amount": r.amount, "occurred_at": r.occurred_at}
                for n, r in enumerate(world.ledger)
            ])
        if world.purchases:
            conn.execute(sa.insert(purchases), [
                {"id": f"P{n:025d}", "user_id": p.user_id, "provider": "stripe", "tokens": p.tokens,
                 "amount_inr": p.amount_inr, "status": p.status, "created_at": p.paid_at,
                 "paid_at": p.paid_at if p.status == "paid" else None}
                for n, p in enumerate(world.purchases)
            ])
        if world.referrals:
            conn.execute(sa.insert(referrals), [
                {"id": f"R{n:025d}", "campaign_id": r.campaign_id, "referrer_user_id": r.referrer,
                 "referred_user_id": r.referred, "status": r.status, "bonus_awarded": r.bonus_awarded,
                 "created_at": r.created_at}
                for n, r in enumerate(world.referrals)
            ])
    for day in sorted(world.materialized):
        materialize_day(engine, day, KOLKATA)


# ---- plain Python over the rows -------------------------------------------------------------

def _ledger_in(world: World, first: date, last: date) -> list[Ledger]:
    return [r for r in world.ledger if first <= _local_day(r.occurred_at) <= last]


def _paid_in(world: World, first: date, last: date) -> list[Purchase]:
    return [p for p in world.purchases if p.status == "paid" and first <= _local_day(p.paid_at) <= last]


def _kpis(rows: list[Ledger], revenue: Decimal) -> dict:
    credited = sum(r.amount for r in rows if r.direction == "credit")
    debited = sum(r.amount for r in rows if r.direction == "debit")
    return {"credited": credited, "debited": debited, "net": credited - debited, "revenue_in_inr": revenue,
            "active_users": len({r.user_id for r in rows})}


def expected_overview(world: World, feature=None, token_type=None, first=None, last=None) -> dict:
    first, last = first or world.first, last or world.last
    rows = [r for r in _ledger_in(world, first, last)
            if feature in (None, r.reason) and token_type in (None, r.token_type)]
    revenue = Decimal(0)
    if feature in (None, "purchase") and token_type in (None, "regular"):
        revenue = sum((p.amount_inr for p in _paid_in(world, first, last)), Decimal(0))
    return _kpis(rows, revenue)


def _label(day: date, granularity: str) -> date:
    return {"daily": day, "weekly": day - timedelta(days=day.weekday()), "monthly": day.replace(day=1)}[granularity]


def expected_trend(world: World, granularity: str) -> dict:
    days_of = defaultdict(list)
    day = world.first
    while day <= world.last:
        days_of[_label(day, granularity)].append(day)
        day += timedelta(days=1)
    return {"series": [
        {"date": label.isoformat(), **expected_overview(world, first=min(days), last=max(days))}
        for label, days in sorted(days_of.items())
    ]}


def expected_by_feature(world: World) -> dict:
    sums = defaultdict(lambda: [0, 0])
    for r in _ledger_in(world, world.first, world.last):
        sums[r.reason][r.direction == "debit"] += r.amount
    return {"items": [{"feature": f, "credited": c, "debited": d} for f, (c, d) in sorted(sums.items())]}


def expected_composition(world: World) -> dict:
    volume = defaultdict(int)
    for r in _ledger_in(world, world.first, world.last):
        volume[r.token_type] += r.amount
    return composition(volume["regular"], volume["promo"])


def expected_top_users(world: World, metric: str, limit: int) -> dict:
    sums = defaultdict(lambda: [0, 0])
    for r in _ledger_in(world, world.first, world.last):
        sums[r.user_id][r.direction == "debit"] += r.amount
    values = {u: {"spend": d, "earn": c, "net": c - d}[metric] for u, (c, d) in sums.items()}
    ranked = sorted((u for u, v in values.items() if metric == "net" or v > 0), key=lambda u: (-values[u], u))
    return {"items": [{"user_id": u, "username": f"user{u}", "email": f"user{u}@example.com", metric: values[u]}
                      for u in ranked[:limit]]}


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_purchases(world: World) -> dict:
    paid = _paid_in(world, world.first, world.last)
    count, tokens = len(paid), sum(p.tokens for p in paid)
    revenue = sum((p.amount_inr for p in paid), Decimal(0))
    return {"total_purchases": count, "total_tokens": tokens, "total_revenue": revenue,
            "avg_tokens_per_purchase": _round(Decimal(tokens) / count) if count else 0,
            "avg_revenue_per_purchase": _round(revenue / count) if count else 0,
            "unique_buyers": len({p.user_id for p in paid})}


def expected_promotions(world: World, campaign_id: str | None) -> dict:
    rows = [r for r in world.referrals if world.first <= _local_day(r.created_at) <= world.last
            and campaign_id in (None, r.campaign_id)]
    successful = [r for r in rows if r.status == "credited"]
    return {"total_referrers": len({r.referrer for r in rows}), "total_referrals": len(rows),
            "successful_referrals": len(successful),
            "total_bonus_awarded": sum(r.bonus_awarded for r in successful),
            "conversion_rate": _round(Decimal(100 * len(successful)) / len(rows)) if rows else 0}


# ---- the properties ---------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(world=worlds(), feature=st.sampled_from([None, *REASONS, "translation"]),
       token_type=st.sampled_from([None, "regular", "promo"]))
def test_token_questions_equal_plain_python(db, world, feature, token_type):
    _load(db, world)
    span = (world.first, world.last, KOLKATA)
    with db.connect() as conn:
        assert analytics.token_overview(conn, *span) == expected_overview(world)
        assert analytics.token_overview(conn, *span, feature=feature, token_type=token_type) == \
            expected_overview(world, feature, token_type)
        for granularity in ("daily", "weekly", "monthly"):
            assert analytics.token_trend(conn, *span, granularity=granularity) == expected_trend(world, granularity)
        assert analytics.tokens_by_feature(conn, *span) == expected_by_feature(world)
        assert analytics.token_composition(conn, *span) == expected_composition(world)


@PROPERTY_SETTINGS
@given(world=worlds(), limit=st.integers(1, len(USER_IDS) + 1))
def test_top_users_equal_plain_python(db, world, limit):
    _load(db, world)
    with db.connect() as conn:
        for metric in ("spend", "earn", "net"):
            assert analytics.top_users(conn, world.first, world.last, KOLKATA, metric=metric, limit=limit) == \
                expected_top_users(world, metric, limit)


@PROPERTY_SETTINGS
@given(world=worlds(), campaign_id=st.sampled_from([None, *CAMPAIGNS]))
def test_purchases_and_promotions_equal_plain_python(db, world, campaign_id):
    _load(db, world)
    with db.connect() as conn:
        assert analytics.purchase_analytics(conn, world.first, world.last, KOLKATA) == expected_purchases(world)
        assert analytics.promotion_analytics(conn, world.first, world.last, KOLKATA, campaign_id=campaign_id) == \
            expected_promotions(world, campaign_id)
