"""Promotion campaigns, for pickers such as the dashboard's campaign selector."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.dates import iso_local
from core.tables import promo_campaigns


def list_campaigns(engine: Engine, tz: ZoneInfo) -> list[dict]:
    """Every campaign, newest start first; timestamps in the report zone."""
    query = sa.select(promo_campaigns).order_by(promo_campaigns.c.starts_at.desc(), promo_campaigns.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"id": row.id, "name": row.name, "starts_at": iso_local(row.starts_at, tz), "ends_at": iso_local(row.ends_at, tz)}
        for row in rows
    ]
