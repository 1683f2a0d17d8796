"""The benchmark's interleaved comparisons (tests/bench/interleave.py): order and verdicts."""

import pytest

from tests.bench.interleave import Comparison, interleaved


def test_a_and_b_alternate_and_each_round_is_a_over_b():
    calls = []
    values = iter([99, 99, 2, 1, 4, 2, 6, 2, 8, 2, 10, 2])

    def measure(name):
        def once():
            calls.append(name)
            return next(values)
        return once

    comparison = interleaved(measure("a"), measure("b"), rounds=5)
    assert calls == ["a", "b"] * 6  # one warm-up round, unrecorded
    assert comparison.ratios == (2, 2, 3, 4, 5)
    assert (comparison.median, comparison.low, comparison.high) == (3, 2, 5)
    rates = comparison.side_a(" req/s")  # A's own figures, e.g. against a floor of their own
    assert rates.ratios == (2, 4, 6, 8, 10) and rates.verdict(at_least=3) == "spread too wide to call"
    assert rates.text() == "6.00 req/s (min 2.00, max 10.00, 5 rounds A/B)"
    assert comparison.side_b(" req/s").ratios == (1, 2, 2, 2, 2)


def test_fewer_than_five_rounds_are_refused():
    with pytest.raises(ValueError, match="at least 5 rounds"):
        interleaved(lambda: 1, lambda: 1, rounds=4)


@pytest.mark.parametrize(("ratios", "verdict"), [
    ((0.6, 0.7, 0.55, 0.8, 0.9), "met"),
    ((0.2, 0.3, 0.45, 0.1, 0.4), "missed"),
    ((0.2, 0.6, 0.45, 0.7, 0.4), "spread too wide to call"),
])
def test_a_target_is_called_only_when_every_round_agrees(ratios, verdict):
    assert Comparison(ratios).verdict(at_least=0.5) == verdict


def test_an_upper_bound_is_called_the_same_way():
    assert Comparison((1.2, 1.4, 1.3, 1.1, 1.45)).verdict(at_most=1.5) == "met"
    assert Comparison((1.2, 1.6, 1.3, 1.1, 1.45)).verdict(at_most=1.5) == "spread too wide to call"


def test_a_report_row_carries_the_comparisons_verdict_not_the_medians():
    from tests.bench.interleave import comparison_row

    row = comparison_row("load", "overview ÷ /healthz", Comparison((0.2, 0.6, 0.45, 0.7, 0.4)), at_least=0.5)
    assert (row.ours.value, row.verdict) == (0.45, "spread too wide to call")
    assert "min 0.20, max 0.70, 5 rounds" in row.note
