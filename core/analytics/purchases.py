"""Purchase analytics over paid purchases whose paid_at falls in the range."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from core.aggregates import CENT, purchase_totals
from core.analytics import stored
from core.analytics.days import read_range


def purchase_analytics(conn: Connection, first: date, last: date, tz: ZoneInfo) -> dict:
    stored_range = read_range(conn, first, last, tz)
    live = purchase_totals(conn, stored_range.live_bounds(tz))
    totals = stored.purchases(conn, stored_range.versions)
    count = totals.purchases + live.purchases
    tokens = totals.tokens + live.tokens
    revenue = totals.revenue_in_inr + live.revenue_in_inr
    return {
        "total_purchases": count,
        "total_tokens": tokens,
        "total_revenue": revenue,
        "avg_tokens_per_purchase": _average(Decimal(tokens), count),
        "avg_revenue_per_purchase": _average(revenue, count),
        "unique_buyers": len(totals.buyers | live.buyers),
    }


def _average(total: Decimal, count: int) -> Decimal:
    """2 decimals, half up; 0 with no purchases."""
    if count == 0:
        return Decimal("0.00")
    return (total / count).quantize(CENT, rounding=ROUND_HALF_UP)
