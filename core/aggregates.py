"""Aggregates of local days, computed from the base tables.

The ETL stores one day's (core.materialize); the analytics read them back for materialized days
and compute the same aggregates here over every other day of a range, so both paths share one
definition of every number (DESIGN.md, "Meaning of the numbers").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from core.dates import day_bounds
from core.dialect import distinct_ids, exactly
from core.tables import purchases, referrals, wallet_ledger

CENT = Decimal("0.01")
NO_CAMPAIGN = ""
# Half-open naive-UTC intervals [start, end), each covering whole local days.
Bounds = Sequence[tuple[datetime, datetime]]


@dataclass
class Volume:
    credited: int = 0
    debited: int = 0
    users: BitMap = field(default_factory=BitMap)


@dataclass
class PurchaseTotals:
    purchases: int = 0
    tokens: int = 0
    revenue_in_inr: Decimal = Decimal("0.00")
    buyers: BitMap = field(default_factory=BitMap)


@dataclass
class ReferralTotals:
    referrals: int = 0
    successful: int = 0
    bonus_awarded: int = 0
    referrers: BitMap = field(default_factory=BitMap)


@dataclass
class Aggregates:
    """Figures over one or more local days (not necessarily consecutive)."""

    # (reason, token_type) -> sums and the users behind them
    breakdown: dict[tuple[str, str], Volume] = field(default_factory=dict)
    # user_id -> [credited, debited]
    user_sums: dict[int, list[int]] = field(default_factory=dict)
    purchases: PurchaseTotals = field(default_factory=PurchaseTotals)
    # campaign_id ('' for none) -> referral figures
    referrals: dict[str, ReferralTotals] = field(default_factory=dict)

    @property
    def credited(self) -> int:
        return sum(v.credited for v in self.breakdown.values())

    @property
    def debited(self) -> int:
        return sum(v.debited for v in self.breakdown.values())

    @property
    def users(self) -> BitMap:
        return BitMap(self.user_sums)

    def by_feature(self) -> dict[str, dict[str, int]]:
        features: dict[str, dict[str, int]] = defaultdict(lambda: {"credited": 0, "debited": 0})
        for (reason, _), volume in self.breakdown.items():
            features[reason]["credited"] += volume.credited
            features[reason]["debited"] += volume.debited
        return dict(sorted(features.items()))

    def token_type_volumes(self) -> dict[str, int]:
        volumes = {"regular": 0, "promo": 0}
        for (_, token_type), volume in self.breakdown.items():
            volumes[token_type] += volume.credited + volume.debited
        return volumes


@dataclass(kw_only=True)
class DayAggregates(Aggregates):
    day: date
    # None: the whole day; else the day's part before this instant (naive UTC).
    covered_until: datetime | None = None


def composition(regular_volume: int, promo_volume: int) -> dict[str, float]:
    """Percentages of token volume, 2 decimals, summing to exactly 100 (both 0 with no activity)."""
    total = regular_volume + promo_volume
    if total == 0:
        return {"regular": 0.0, "promo": 0.0}
    regular = (Decimal(100 * regular_volume) / Decimal(total)).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"regular": float(regular), "promo": float(Decimal(100) - regular)}


def money(value) -> Decimal:
    """An exact 2-decimal amount; SQLite sums DECIMAL columns as floats."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def compute_day(conn: Connection, day: date, tz: ZoneInfo, until: datetime | None = None) -> DayAggregates:
    """Everything the analytics need about one local day, straight from the base tables; with
    `until` (naive UTC), only its part before that instant (today, materialized as it goes)."""
    start, end = day_bounds(day, day, tz)
    bounds = [(start, end if until is None else min(until, end))]
    aggregates = DayAggregates(day=day, covered_until=until)
    add_ledger(conn, aggregates, bounds)
    add_purchases(conn, aggregates, bounds)
    add_referrals(conn, aggregates, bounds)
    return aggregates


def within(column: sa.ColumnElement, bounds: Bounds) -> sa.ColumnElement[bool]:
    """`column` in any of the intervals: plain comparisons, so an index range scan serves it."""
    return sa.or_(*(sa.and_(column >= start, column < end) for start, end in bounds))


def _credited() -> sa.ColumnElement:
    ledger = wallet_ledger.c
    return sa.func.sum(sa.case((ledger.direction == "credit", ledger.amount), else_=0))


def _debited() -> sa.ColumnElement:
    ledger = wallet_ledger.c
    return sa.func.sum(sa.case((ledger.direction == "debit", ledger.amount), else_=0))


def ledger_sums_query(bounds: Bounds, *keys: sa.ColumnElement) -> sa.Select:
    """SELECT *keys, credited, debited over the ledger rows in the (non-empty) intervals."""
    return (
        sa.select(*keys, _credited().label("credited"), _debited().label("debited"))
        .where(within(wallet_ledger.c.occurred_at, bounds))
        .group_by(*keys)
    )


def ledger_sums(conn: Connection, bounds: Bounds, *keys: sa.ColumnElement) -> list[tuple]:
    """(*keys, credited, debited) for each group of ledger rows in the intervals; text keys
    (reasons) grouped byte for byte, as the analytics compare them."""
    if not bounds:
        return []
    if _collation_would_merge(conn, bounds, keys):
        keys = tuple(exactly(conn, key).label(key.name) if _is_free_text(key) else key for key in keys)
    rows = conn.execute(ledger_sums_query(bounds, *keys))
    return [(*key_values, int(credited), int(debited)) for *key_values, credited, debited in rows]


def _collation_would_merge(conn: Connection, bounds: Bounds, keys: tuple[sa.ColumnElement, ...]) -> bool:
    """Whether grouping by a text key's own collation would merge texts that differ in bytes
    (MySQL's default ignores case and trailing spaces). Counting the distinct texts both ways
    costs a tenth of grouping every row byte for byte, which is needed only when they differ."""
    for key in keys:
        if _is_free_text(key) and exactly(conn, key) is not key:
            by_bytes, by_collation = conn.execute(
                sa.select(sa.func.count(sa.distinct(exactly(conn, key))), sa.func.count(sa.distinct(key)))
                .where(within(wallet_ledger.c.occurred_at, bounds))
            ).one()
            if by_bytes != by_collation:
                return True
    return False


def _is_free_text(key: sa.ColumnElement) -> bool:
    """Text that may come in variants a collation folds (a reason); an enum's values cannot."""
    return isinstance(key.type, sa.String) and not isinstance(key.type, sa.Enum)


def add_ledger(conn: Connection, aggregates: Aggregates, bounds: Bounds) -> None:
    ledger = wallet_ledger.c
    for user_id, reason, token_type, credited, debited in ledger_sums(
        conn, bounds, ledger.user_id, ledger.reason, ledger.token_type
    ):
        volume = aggregates.breakdown.get((reason, token_type))
        if volume is None:
            volume = aggregates.breakdown[(reason, token_type)] = Volume()
        volume.users.add(user_id)
        volume.credited += credited
        volume.debited += debited
        sums = aggregates.user_sums.setdefault(user_id, [0, 0])
        sums[0] += credited
        sums[1] += debited


def ledger_volume(conn: Connection, bounds: Bounds, *conditions: sa.ColumnElement[bool]) -> Volume:
    """Credited, debited and the distinct users of the ledger rows in the intervals that meet
    `conditions`, as one row: the users come as one text, not a row each, which is what makes
    today's share of a request cheap."""
    if not bounds:
        return Volume()
    ledger = wallet_ledger.c
    credited, debited, user_ids = conn.execute(
        sa.select(_credited(), _debited(), distinct_ids(ledger.user_id))
        .where(within(ledger.occurred_at, bounds), *conditions)
    ).one()
    return Volume(int(credited or 0), int(debited or 0), ids_bitmap(user_ids))


def ids_bitmap(ids_text: str | bytes | None) -> BitMap:
    if not ids_text:
        return BitMap()
    if isinstance(ids_text, bytes):
        ids_text = ids_text.decode("ascii")
    return BitMap(map(int, ids_text.split(",")))


def _paid_within(bounds: Bounds) -> sa.ColumnElement[bool]:
    p = purchases.c
    return sa.and_(p.status == "paid", within(p.paid_at, bounds))


def add_purchases(conn: Connection, aggregates: Aggregates, bounds: Bounds) -> None:
    totals, found = aggregates.purchases, purchase_totals(conn, bounds)
    totals.purchases += found.purchases
    totals.tokens += found.tokens
    totals.revenue_in_inr += found.revenue_in_inr
    totals.buyers |= found.buyers


def purchase_totals(conn: Connection, bounds: Bounds) -> PurchaseTotals:
    """Paid purchases in the intervals, in one row (the buyers as one text)."""
    if not bounds:
        return PurchaseTotals()
    p = purchases.c
    count, tokens, revenue, buyers = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(p.tokens), sa.func.sum(p.amount_inr), distinct_ids(p.user_id))
        .where(_paid_within(bounds))
    ).one()
    return PurchaseTotals(int(count), int(tokens or 0), money(revenue), ids_bitmap(buyers))


def paid_revenue(conn: Connection, bounds: Bounds) -> Decimal:
    """Revenue of the purchases paid in the intervals, without the per-buyer detail."""
    if not bounds:
        return money(0)
    return money(conn.execute(sa.select(sa.func.sum(purchases.c.amount_inr)).where(_paid_within(bounds))).scalar())


def add_referrals(conn: Connection, aggregates: Aggregates, bounds: Bounds) -> None:
    if not bounds:
        return
    r = referrals.c
    rows = conn.execute(
        sa.select(r.campaign_id, r.referrer_user_id, r.status, sa.func.count(), sa.func.sum(r.bonus_awarded))
        .where(within(r.created_at, bounds))
        .group_by(r.campaign_id, r.referrer_user_id, r.status)
    )
    for campaign_id, referrer, status, count, bonus in rows:
        totals = aggregates.referrals.setdefault(campaign_id or NO_CAMPAIGN, ReferralTotals())
        totals.referrals += count
        totals.referrers.add(referrer)
        if status == "credited":
            totals.successful += count
            totals.bonus_awarded += int(bonus)
