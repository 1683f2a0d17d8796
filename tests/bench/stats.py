"""Summaries of timing samples, in milliseconds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    samples: int
    median_ms: float
    p95_ms: float


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `fraction` of samples at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def summarize(seconds: list[float]) -> Timing:
    millis = [s * 1000 for s in seconds]
    return Timing(len(millis), round(statistics.median(millis), 2), round(percentile(millis, 0.95), 2))


def time_call(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def repeat_timed(call: Callable[[], object], *, at_least: int, at_most: int, budget_seconds: float) -> Timing:
    """Time `call` at least `at_least` times, then more while the budget lasts, up to `at_most`.

    Baselines that scan a whole year can take seconds each; a budget keeps the run bounded
    while still taking a median over several runs.
    """
    samples: list[float] = []
    spent = 0.0
    while len(samples) < at_most and (len(samples) < at_least or spent < budget_seconds):
        elapsed = time_call(call)
        samples.append(elapsed)
        spent += elapsed
    return summarize(samples)
