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
    # Issue 11's freshness and capture rows (tests/bench/freshness.py, writers.py).
    today_rows: int = 100_000  # today topped up to this many ledger rows; the target is stated for 1,000,000
    fold_trials: int = 5  # late changes timed until folded in
    writer_seconds: int = 10  # each timed phase of the 8 single-row writers
    writer_rounds: int = 3  # with/without capture, interleaved
    lock_check_seconds: int = 60
    # Issue 15's exports: the large sizes in CSV, CSV+gzip and Parquet, the size sent to S3, and
    # the rounds of the 100k CSV against `mysql --batch` by turns.
    large_exports: tuple[int, ...] = (1_000_000,)
    s3_export_rows: int = 1_000_000
    interleaved_rounds: int = 6

    @property
    def database(self) -> str:
        return f"wa_bench_{self.name}"


SCALES = {
    # CI smoke: every phase runs end to end in about three minutes (the late changes wait for the
    # scheduler's 10 s ticks).
    "tiny": Scale("tiny", users=500, days=30, ledger_rows=20_000, load_seconds=3, load_max_requests=5_000,
                  today_rows=5_000, fold_trials=3, writer_seconds=3, writer_rounds=1, lock_check_seconds=10,
                  large_exports=(10_000,), s3_export_rows=10_000, interleaved_rounds=2),
    "1m": Scale("1m", users=20_000, days=365, ledger_rows=1_000_000),
    "10m": Scale("10m", users=100_000, days=365, ledger_rows=10_000_000, today_rows=1_000_000,
                 large_exports=(1_000_000, 10_000_000)),
    # Issue 18's users axis: a million users on 10m's rows (every user has a signup row; most are
    # active in a few months of the year).
    "users1m": Scale("users1m", users=1_000_000, days=365, ledger_rows=10_000_000),
    # The users axis at 10m's rows: its start (20,000 users, 1m's); 10m is its middle.
    "users20k": Scale("users20k", users=20_000, days=365, ledger_rows=10_000_000),
    # 10m's users on 1m's rows.
    "users100k": Scale("users100k", users=100_000, days=365, ledger_rows=1_000_000),
}
DEFAULT_SCALE = "1m"
