"""Calendar days of REPORT_TIMEZONE over naive-UTC timestamps.

A `YYYY-MM-DD` parameter means that day in the report zone. Queries compare the stored UTC
column with the UTC instants that bound the local day, so range filters stay index-friendly.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.errors import BusinessRuleViolation, ValidationError, excerpt

MAX_RANGE_DAYS = 365
# Day bounds of API parameters: a day's bounds, and the week or month after the last one, must
# stay inside what Python and MySQL DATETIME can hold in any time zone.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9998, 12, 31)
_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


def utc_now() -> datetime:
    """Now as a naive UTC datetime, the way timestamps are stored."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return to_local_date(now or utc_now(), tz)


def to_local_date(utc_naive: datetime, tz: ZoneInfo) -> date:
    return utc_naive.replace(tzinfo=UTC).astimezone(tz).date()


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive-UTC instant at which `day` starts in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Half-open UTC bounds [start, end) covering local days first..last inclusive."""
    return local_midnight_utc(first, tz), local_midnight_utc(last + timedelta(days=1), tz)


def iso_local(utc_naive: datetime | None, tz: ZoneInfo) -> str | None:
    """An API timestamp: ISO 8601 in the report zone, with its offset."""
    if utc_naive is None:
        return None
    return utc_naive.replace(tzinfo=UTC).astimezone(tz).isoformat()


def parse_date(raw: object, name: str) -> date:
    if not isinstance(raw, str) or not _DATE_PATTERN.fullmatch(raw):
        raise ValidationError(f"{name} must be a date in YYYY-MM-DD format, got {excerpt(repr(raw))}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name} is not a real calendar day: {excerpt(repr(raw))}") from None


def parse_api_day(raw: object, name: str) -> date:
    """A day given to the API: a real YYYY-MM-DD day from EARLIEST_DAY to LATEST_DAY."""
    day = parse_date(raw, name)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(f"{name} must be between {EARLIEST_DAY} and {LATEST_DAY}, got {excerpt(repr(raw))}")
    return day


def parse_range(raw_from: object, raw_to: object) -> tuple[date, date]:
    """Both ends required and inclusive; at most 365 days apart (a full calendar year fits)."""
    if raw_from in (None, "") or raw_to in (None, ""):
        raise ValidationError("from and to date parameters are required")
    first, last = parse_api_day(raw_from, "from"), parse_api_day(raw_to, "to")
    check_range(first, last)
    return first, last


def check_range(first: date, last: date) -> None:
    if first > last:
        raise BusinessRuleViolation(f"from ({first}) must not be after to ({last}); swap them")
    if (last - first).days > MAX_RANGE_DAYS:
        raise BusinessRuleViolation(
            f"Date range cannot exceed {MAX_RANGE_DAYS} days; "
            f"{first} to {last} spans {(last - first).days}, narrow it"
        )


def days(first: date, last: date):
    """Every day from first to last inclusive."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def month_start(day: date) -> date:
    """The 1st of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The 1st of the month after `day`'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return next_month(day) - timedelta(days=1)
