from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.exports.writers import _LocalTime


@pytest.mark.parametrize("zone, around", [
    ("America/New_York", datetime(2025, 3, 9, 7, 0)),    # clocks go forward at 02:00 local
    ("America/New_York", datetime(2025, 11, 2, 6, 0)),   # and back at 02:00 local
    ("Australia/Lord_Howe", datetime(2025, 10, 4, 15, 30)),  # a half-hour change, at :30 UTC
    ("Asia/Kolkata", datetime(2025, 10, 31, 18, 30)),    # local midnight, no change at all
])
def test_local_time_of_the_csv_agrees_with_the_zone_database_across_offset_changes(zone, around):
    tz = ZoneInfo(zone)
    local_time = _LocalTime(tz)
    instants = [around + timedelta(seconds=step) for step in range(-3 * 3600, 3 * 3600, 599)]
    instants += list(reversed(instants))  # out of order as well
    for instant in instants:
        expected = instant.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        assert local_time(instant) == expected, instant
