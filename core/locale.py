"""The locale a report zone's admins read numbers in: English with the zone's country's
conventions (`en-IN` for Asia/Kolkata: lakh grouping), from the tz database's own zone table."""

from __future__ import annotations

import zoneinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

FALLBACK = "en"


@cache
def _zone_countries() -> dict[str, str]:
    for folder in zoneinfo.TZPATH:
        table = Path(folder) / "zone.tab"
        if table.is_file():
            rows = (line.split("\t") for line in table.read_text(encoding="utf-8").splitlines())
            return {row[2]: row[0] for row in rows if len(row) >= 3 and not row[0].startswith("#")}
    return {}


def number_locale(tz: ZoneInfo) -> str:
    """`en-<country>` for a zone of one country, else `en` (UTC, Etc/*, an unknown table)."""
    country = _zone_countries().get(tz.key)
    return f"en-{country}" if country else FALLBACK
