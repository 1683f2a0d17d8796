"""Dataset sizes the benchmark runs at, and how hard each phase pushes at that size."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    days: int
    ledger_rows: int
    seed: int = 6
    requests_per_route: int = 30
    warmup_requests: int = 3
    load_seconds: int = 10
    load_max_requests: int = 50_000

    @property
    def database(self) -> str:
        return f"wa_bench_{self.name}"


SCALES = {
    # CI smoke: every phase runs end to end in well under two minutes.
    "tiny": Scale("tiny", users=500, days=30, ledger_rows=20_000, load_seconds=3, load_max_requests=5_000),
    "1m": Scale("1m", users=20_000, days=365, ledger_rows=1_000_000),
    "10m": Scale("10m", users=100_000, days=365, ledger_rows=10_000_000),
}
DEFAULT_SCALE = "1m"
