"""The benchmark's choice of which transactions its exports take (a pure function)."""

from datetime import date, timedelta

import pytest

from tests.bench.dataset import DayCounts, export_scope

YESTERDAY = date(2026, 11, 25)


def days(*per_day: dict) -> list[DayCounts]:
    """Newest day first, as the harness counts them; every row is a debit or a credit."""
    return [DayCounts(YESTERDAY - timedelta(days=back), sum(split.values()),
                      {("direction", name): rows for name, rows in split.items()})
            for back, split in enumerate(per_day)]


def test_all_rows_of_the_last_days_when_they_come_nearest_the_cap():
    counts = days({"debit": 30_000, "credit": 10_000}, {"debit": 30_000, "credit": 20_000},
                  {"debit": 30_000, "credit": 30_000})
    scope = export_scope(counts, 100_000)
    assert (scope.filter, scope.rows, scope.first, scope.last) == (None, 90_000, YESTERDAY - timedelta(days=1), YESTERDAY)
    assert scope.filters() == {"from": "2026-11-24", "to": "2026-11-25"}


def test_a_filter_when_one_day_holds_too_few_and_two_too_many():
    counts = days(*[{"debit": 48_000, "credit": 15_000}] * 3)
    scope = export_scope(counts, 100_000)
    assert (scope.filter, scope.rows, scope.scanned) == (("direction", "debit"), 96_000, 126_000)
    assert scope.filters() == {"from": "2026-11-24", "to": "2026-11-25", "direction": "debit"}


def test_a_rare_value_over_many_days_is_not_chosen_while_a_lean_scope_exists():
    counts = days(*[{"debit": 9_000, "credit": 1_100}] * 30)
    scope = export_scope(counts, 10_000)
    # Nine days of credits (9,900 rows) would read 90,000.
    assert (scope.filter, scope.rows, scope.first) == (("direction", "debit"), 9_000, YESTERDAY)


def test_a_day_over_the_cap_falls_back_to_the_largest_filtered_scope():
    counts = days(*[{"debit": 60_000, "credit": 9_000}] * 3)
    scope = export_scope(counts, 10_000)
    assert (scope.filter, scope.rows, scope.first) == (("direction", "credit"), 9_000, YESTERDAY)


def test_no_scope_at_all_is_an_error():
    with pytest.raises(RuntimeError, match="no scope"):
        export_scope(days({"debit": 20_000, "credit": 20_000}), 10_000)
