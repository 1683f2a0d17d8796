from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.exports.writers import LocalTimes


@pytest.mark.parametrize("zone, around", [
    ("America/New_York", datetime(2025, 3, 9, 7, 0)),    # clocks go forward at 02:00 local
    ("America/New_York", datetime(2025, 11, 2, 6, 0)),   # and back at 02:00 local
    ("Australia/Lord_Howe", datetime(2025, 10, 4, 15, 30)),  # a half-hour change, at :30 UTC
    ("Asia/Kolkata", datetime(2025, 10, 31, 18, 30)),    # local midnight, no change at all
    ("Europe/Amsterdam", datetime(1937, 6, 30, 22, 40)),  # +01:19:32 until 22:40:28 UTC, mid-minute
    ("UTC", datetime(2026, 1, 1, 0, 0)),
])
def test_local_times_agree_with_the_zone_database_across_offset_changes(zone, around):
    tz = ZoneInfo(zone)
    csv_time, iso_time = LocalTimes(tz, iso=False), LocalTimes(tz, iso=True)
    instants = [around + timedelta(seconds=step) for step in range(-3 * 3600, 3 * 3600, 599)]
    instants += [around + timedelta(seconds=step) for step in range(-90, 90)]  # second by second
    instants += list(reversed(instants))  # out of order as well
    for instant in instants:
        local = instant.replace(tzinfo=UTC).astimezone(tz)
        text = instant.isoformat(" ")
        assert csv_time(text) == local.strftime("%Y-%m-%d %H:%M:%S"), instant
        assert iso_time(text) == local.isoformat(), instant


@given(instants=st.lists(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda instant: instant.replace(microsecond=0)), max_size=30))
def test_parquet_epoch_milliseconds_agree_with_datetime(instants):
    from core.exports.parquet import EpochMilliseconds

    epoch_ms = EpochMilliseconds()
    for instant in sorted(instants) + instants:  # in time order as rows come, then in any order
        expected = round(instant.replace(tzinfo=UTC).timestamp() * 1000)
        assert epoch_ms(instant.isoformat(" ")) == expected, instant
    assert epoch_ms(None) is None
