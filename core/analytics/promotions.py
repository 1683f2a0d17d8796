"""Promotion analytics over referrals created in the range, optionally of one campaign."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.engine import Connection

from core.aggregates import CENT, Aggregates, add_referrals
from core.analytics import stored
from core.analytics.days import read_range
from core.dialect import equals_exactly
from core.errors import NotFound, excerpt
from core.tables import promo_campaigns


def promotion_analytics(conn: Connection, first: date, last: date, tz: ZoneInfo,
                        campaign_id: str | None = None) -> dict:
    if campaign_id is not None:
        _check_campaign_exists(conn, campaign_id)
    live = Aggregates()
    stored_range = read_range(conn, first, last, tz)
    add_referrals(conn, live, stored_range.live_bounds(tz))
    totals = stored.referrals(conn, stored_range.versions, campaign_id)
    referrers = [totals.referrers]
    for campaign, live_totals in live.referrals.items():
        if campaign_id in (None, campaign):
            totals.referrals += live_totals.referrals
            totals.successful += live_totals.successful
            totals.bonus_awarded += live_totals.bonus_awarded
            referrers.append(live_totals.referrers)
    return {
        "total_referrers": len(BitMap.union(*referrers)),
        "total_referrals": totals.referrals,
        "successful_referrals": totals.successful,
        "total_bonus_awarded": totals.bonus_awarded,
        "conversion_rate": _percentage(totals.successful, totals.referrals),
    }


def _check_campaign_exists(conn: Connection, campaign_id: str) -> None:
    """A mistyped campaign id is an error, not a campaign without referrals."""
    found = conn.execute(sa.select(promo_campaigns.c.id).where(equals_exactly(conn, promo_campaigns.c.id, campaign_id))).first()
    if found is None:
        raise NotFound(f"No campaign with id {excerpt(repr(campaign_id))}; check campaign_id")


def _percentage(part: int, whole: int) -> Decimal:
    if whole == 0:
        return Decimal("0.00")
    return (Decimal(100 * part) / whole).quantize(CENT, rounding=ROUND_HALF_UP)
