from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.dates import month_end, month_start, next_month


@pytest.mark.parametrize("day, start, end, following", [
    (date(2025, 1, 31), date(2025, 1, 1), date(2025, 1, 31), date(2025, 2, 1)),
    (date(2024, 2, 10), date(2024, 2, 1), date(2024, 2, 29), date(2024, 3, 1)),
    (date(2025, 2, 1), date(2025, 2, 1), date(2025, 2, 28), date(2025, 3, 1)),
    (date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31), date(2026, 1, 1)),
])
def test_month_arithmetic(day, start, end, following):
    assert (month_start(day), month_end(day), next_month(day)) == (start, end, following)


@given(st.dates(min_value=date(1970, 1, 1), max_value=date(9998, 11, 30)))
def test_a_month_is_the_days_from_its_start_to_its_end(day):
    assert month_start(day) <= day <= month_end(day)
    assert month_end(day) + timedelta(days=1) == next_month(day)
    assert (month_start(day) - timedelta(days=1)).month != day.month
