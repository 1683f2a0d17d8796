"""Comparisons that can be steered by: A and B measured alternately on the same warm server.

The same figure moved more between runs than the changes it was to judge (the 30-day overview
against GET /healthz read 0.16 to 0.59 in four runs): whatever else the machine does shifts both
sides when they are measured at once, and one side alone when they are measured minutes apart.
Measured A/B/A/B, each round gives a ratio of two measurements made seconds apart; the median
of at least five is the figure, and its min–max says whether the rounds agree well enough to
call a target met or missed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tests.bench.client import ApiClient, time_get
from tests.bench.load import run_load
from tests.bench.report import Measure, Row, Target

MIN_ROUNDS = 5
LOAD_SECONDS = 3  # each side of a round of throughput
ROUTE_REQUESTS = 5  # the route's side of a round: their median


@dataclass(frozen=True)
class Comparison:
    """A ÷ B per round, in the order measured (`sides`: each round's A and B)."""

    ratios: tuple[float, ...]
    unit: str = "×"
    sides: tuple[tuple[float, float], ...] = ()

    def side_a(self, unit: str) -> Comparison:
        """A's own figures per round, as a comparison of their own (e.g. req/s against a floor)."""
        return Comparison(tuple(a for a, _ in self.sides), unit)

    def side_b(self, unit: str) -> Comparison:
        return Comparison(tuple(b for _, b in self.sides), unit)

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def low(self) -> float:
        return min(self.ratios)

    @property
    def high(self) -> float:
        return max(self.ratios)

    def verdict(self, *, at_least: float | None = None, at_most: float | None = None) -> str:
        """`met` when every round meets the target, `missed` when none does, else the spread is
        too wide to call (the median alone would call it either way from one run to the next)."""
        def meets(ratio: float) -> bool:
            return (at_least is None or ratio >= at_least) and (at_most is None or ratio <= at_most)

        hits = [meets(ratio) for ratio in self.ratios]
        if all(hits):
            return "met"
        if not any(hits):
            return "missed"
        return "spread too wide to call"

    def text(self) -> str:
        return (f"{self.median:,.2f}{self.unit} (min {self.low:,.2f}, max {self.high:,.2f}, "
                f"{len(self.ratios)} rounds A/B)")


def interleaved(measure_a: Callable[[], float], measure_b: Callable[[], float], *, rounds: int = MIN_ROUNDS,
                warmup: bool = True) -> Comparison:
    """Measure A, then B, `rounds` times (after one unrecorded round of each when `warmup`);
    each measurement returns one number of the same unit, and the ratio is A ÷ B."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"at least {MIN_ROUNDS} rounds are needed to see the spread, not {rounds}")
    if warmup:
        measure_a()
        measure_b()
    sides = []
    for _ in range(rounds):
        a = measure_a()
        b = measure_b()
        sides.append((a, b))
    return Comparison(tuple(a / b for a, b in sides), sides=tuple(sides))


def throughput_vs(port: int, token: str, path: str, ceiling_path: str = "/healthz") -> Comparison:
    """`path`'s throughput under load ÷ `ceiling_path`'s, each side LOAD_SECONDS a round."""
    def throughput(target: str) -> float:
        result = run_load(port, target, token, seconds=LOAD_SECONDS, max_requests=50_000)
        if result.non_2xx or result.socket_errors:
            raise RuntimeError(f"{target}: {result.non_2xx} non-2xx, {result.socket_errors} socket errors under load")
        return result.requests_per_second

    return interleaved(lambda: throughput(path), lambda: throughput(ceiling_path))


def comparison_row(section: str, figure: str, comparison: Comparison, *, at_least: float | None = None,
                   at_most: float | None = None) -> Row:
    """A report row whose figure is the median ratio and whose verdict is the comparison's."""
    return Row(section, figure, Measure(round(comparison.median, 2), "×"),
               target=Target(at_least=at_least, at_most=at_most, unit="×"), note=comparison.text(),
               called=comparison.verdict(at_least=at_least, at_most=at_most))


def sql_vs_route(conn: Connection, sql: str, sql_params: dict, client: ApiClient, path: str,
                 params: dict) -> Comparison:
    """The plain SQL's time ÷ the route's (a speed-up): one execution of the SQL against the
    median of ROUTE_REQUESTS requests, a round."""
    statement = sa.text(sql)

    def sql_ms() -> float:
        started = time.perf_counter()
        conn.execute(statement, sql_params).fetchall()
        return (time.perf_counter() - started) * 1000

    return interleaved(sql_ms, lambda: time_get(client, path, params, warmup=0, requests=ROUTE_REQUESTS).median_ms)
