"""Growth curves (issue 18): each axis measured while the others are held, written as a Markdown
table and a PNG chart per axis. `python -m tests.bench.growth --axis range --axis users` (or
`make bench SCALE=growth BENCH_ARGS="--axis range"`); every axis by default.

- range: p95 of every route over 1, 7, 30, 90 and 365 days ending yesterday (one dataset), and
  the interleaved comparisons (tests/bench/interleave.py): the 30-day overview and top users
  against their plain-SQL baselines, the 30-day overview under load against GET /healthz;
- rows: p95 of every route over 365 days at each dataset (ledger rows; users differ with them);
- users: top users over 365 days at each dataset: the first request of a fresh web worker, the
  first after an ETL stored yesterday anew (tests/bench/top_users_probe.py, in a process of its
  own), warm p95 through gunicorn, and the peak RSS of a web worker;
- day-rows: one day's materialization with today topped up to 27,000 rows (a `10m` day) and
  to 1,000,000 (tests/bench/dataset.py's real-time rows, deleted afterwards), and the overview
  of today once the fold-in has stored it up to its last settled quarter hour: computed (as
  after every change) and kept (core.analytics.answers), in one process.

Datasets are the benchmark's own (`--range-scale`, `--scales`, `--users-scales`, `--day-scale`),
built or reused as `make bench` does; the run needs them migrated to this checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from core.analytics import answer, token_overview
from core.config import load_settings
from core.dates import day_bounds, local_today, utc_now
from core.db import get_engine
from core.dialect import snapshot
from core.etl.plan import covered_until
from core.materialize import materialize_day
from tests.bench import dataset as ds
from tests.bench.client import ApiClient, time_get
from tests.bench.exports import peak_rss_mb
from tests.bench.interleave import Comparison, sql_vs_route, throughput_vs
from tests.bench.routes import OVERVIEW, ROUTES
from tests.bench.scales import SCALES, Scale
from tests.bench.server import exclusive_run, wait_until_quiet
from tests.bench.services import PROJECT_ROOT, AppStack, redis_lease, run_cli
from tests.bench.stats import repeat_timed

AXES = ("range", "rows", "users", "day-rows")
RANGES = (1, 7, 30, 90, 365)
DAY_ROWS = (27_000, 1_000_000)
TOP_USERS = next(route for route in ROUTES if route.name == "users/top spend")
REPORT_TIMEZONE = "Asia/Kolkata"
OUT_DIR = PROJECT_ROOT / "var" / "bench" / "growth"


def log(message: str) -> None:
    print(f"[growth {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Point:
    axis: str
    x: float
    x_label: str
    series: str
    value: float | None
    unit: str
    note: str = ""


@dataclass(frozen=True)
class Called:
    """An interleaved comparison with its target."""

    figure: str
    comparison: Comparison
    target: str
    verdict: str


class Growth:
    def __init__(self, args):
        self.args = args
        self.server_url = make_url(args.mysql_url)
        self.tz = ZoneInfo(REPORT_TIMEZONE)
        self.yesterday = local_today(self.tz) - timedelta(days=1)
        self.server = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.points: list[Point] = []
        self.called: list[Called] = []
        self.datasets: dict[str, ds.Dataset] = {}

    def env(self, scale: Scale, redis_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.url(scale).render_as_string(hide_password=False),
            "REDIS_URL": redis_url, "JWT_SECRET": secrets.token_urlsafe(48),
            "EXPORT_DIR": str(OUT_DIR / f"exports-{scale.name}"), "REPORT_TIMEZONE": REPORT_TIMEZONE,
        }

    def url(self, scale: Scale) -> URL:
        return self.server_url.set(database=scale.database)

    def at_scale(self, scale: Scale, measure: Callable[[Scale, dict[str, str]], None]) -> None:
        with exclusive_run(self.server, scale), redis_lease(self.args.redis_url) as redis_url:
            env = self.env(scale, redis_url)
            self.datasets[scale.name] = ds.ensure_dataset(scale, self.server, self.url(scale), env,
                                                          max_age_days=self.args.max_age_days, rebuild=False, log=log)
            if not self._materialized(scale):
                log(f"{scale.name}: backfill")
                run_cli(["etl"], env, timeout=3 * 3600)
            wait_until_quiet(self.server, log, self.args.quiet_timeout)
            measure(scale, env)

    def _materialized(self, scale: Scale) -> bool:
        engine = sa.create_engine(self.url(scale))
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT COUNT(*) FROM analytics_token_daily")).scalar_one() > 0
        finally:
            engine.dispose()

    # -- axes ---------------------------------------------------------------------------------

    def range_axis(self, scale: Scale, env: dict[str, str]) -> None:
        with AppStack(env, OUT_DIR / "logs" / scale.name) as stack:
            token = run_cli(["token"], env, timeout=60).stdout.strip()
            client = ApiClient(stack.port, token)
            try:
                # Every route and range first, several times: each of the web workers answers
                # some, and the first range timed must not pay the others' first reads.
                for days in RANGES:
                    for route in ROUTES:
                        for _ in range(4):
                            client.request("GET", route.path, self.params(route, days))
                for days in RANGES:
                    for route in ROUTES:
                        timing = time_get(client, route.path, self.params(route, days), warmup=3, requests=20)
                        self.points.append(Point("range", days, f"{days} d", route.name, timing.p95_ms, "ms p95"))
                    log(f"  range {days} days measured")
                self.compare_with_baselines(client, scale)
                self.compare_load(scale, stack, token)
            finally:
                client.close()

    def params(self, route, days: int) -> dict:
        first = self.yesterday - timedelta(days=days - 1)
        return {**route.params, "from": first.isoformat(), "to": self.yesterday.isoformat()}

    def compare_with_baselines(self, client: ApiClient, scale: Scale) -> None:
        engine = sa.create_engine(self.url(scale))
        try:
            with engine.connect() as conn:
                for route in (OVERVIEW, TOP_USERS):
                    params = self.params(route, 30)
                    sql_params = self.sql_params(date.fromisoformat(params["from"]), self.yesterday)
                    comparison = sql_vs_route(conn, route.baseline_sql, sql_params, client, route.path, params)
                    self.called.append(Called(f"{route.name}, 30 days: plain SQL ÷ ours (speed-up)", comparison,
                                              "≥ 20×", comparison.verdict(at_least=20)))
                    log(f"  {self.called[-1].figure}: {comparison.text()}")
        finally:
            engine.dispose()

    def sql_params(self, first: date, last: date) -> dict:
        start, end = day_bounds(first, last, self.tz)
        return {"start": start, "end": end, "offset_minutes": int(self.tz.utcoffset(end).total_seconds() // 60)}

    def compare_load(self, scale: Scale, stack: AppStack, token: str) -> None:
        first = self.yesterday - timedelta(days=29)
        overview = f"{OVERVIEW.path}?from={first.isoformat()}&to={self.yesterday.isoformat()}"
        comparison = throughput_vs(stack.port, token, overview)
        overview_rates = comparison.side_a(" req/s")
        ceiling_rates = comparison.side_b(" req/s")
        self.called += [
            Called("overview, 30 days, under load ÷ GET /healthz (req/s)", comparison, "≥ 0.5×",
                   comparison.verdict(at_least=0.5)),
            Called(f"overview, 30 days, under load, the same rounds ({scale.name})", overview_rates,
                   "≥ 1,000 req/s at `10m`", overview_rates.verdict(at_least=1000) if scale.name == "10m" else "—"),
            Called(f"GET /healthz under load, the same rounds ({scale.name})", ceiling_rates,
                   "(the stack's ceiling)", "—"),
        ]
        for called in self.called[-3:]:
            log(f"  {called.figure}: {called.comparison.text()}")

    def rows_axis(self, scale: Scale, env: dict[str, str]) -> None:
        dataset = self.datasets[scale.name]
        with AppStack(env, OUT_DIR / "logs" / scale.name) as stack:
            client = ApiClient(stack.port, run_cli(["token"], env, timeout=60).stdout.strip())
            try:
                for route in ROUTES:
                    timing = time_get(client, route.path, self.params(route, 365), warmup=3, requests=20)
                    self.points.append(Point("rows", dataset.ledger_rows, f"{dataset.ledger_rows / 1e6:.1f}M rows, "
                                             f"{dataset.users // 1000:,}k users", route.name, timing.p95_ms, "ms p95"))
            finally:
                client.close()

    def users_axis(self, scale: Scale, env: dict[str, str]) -> None:
        users = self.datasets[scale.name].users
        x_label = f"{users:,} users"
        probe = subprocess.run(
            [sys.executable, "-m", "tests.bench.top_users_probe", "--database-url", env["DATABASE_URL"]],
            env=env, capture_output=True, text=True, timeout=1800, check=True, cwd=PROJECT_ROOT)
        figures = json.loads(probe.stdout.strip().splitlines()[-1])
        for series, key, unit in (("first after an ETL (one process)", "after_etl_ms", "ms"),
                                  ("first, nothing cached (one process)", "cold_ms", "ms"),
                                  ("peak RSS (one process)", "peak_rss_mb", "MB")):
            self.points.append(Point("users", users, x_label, series, figures[key], unit))
        with AppStack(env, OUT_DIR / "logs" / scale.name) as stack:
            client = ApiClient(stack.port, run_cli(["token"], env, timeout=60).stdout.strip())
            try:
                params = self.params(TOP_USERS, 365)
                started = time.perf_counter()
                client.request("GET", TOP_USERS.path, params)
                first = (time.perf_counter() - started) * 1000
                timing = time_get(client, TOP_USERS.path, params, warmup=3, requests=30)
                web_workers = stack.web.processes()[1:]
                self.points += [
                    Point("users", users, x_label, "first of a fresh web worker (HTTP)", round(first, 1), "ms"),
                    Point("users", users, x_label, "warm p95 (HTTP)", timing.p95_ms, "ms"),
                    Point("users", users, x_label, "peak RSS of a web worker", peak_rss_mb(web_workers), "MB"),
                ]
            finally:
                client.close()
        log(f"  {scale.name}: {figures}")

    def day_rows_axis(self, scale: Scale, env: dict[str, str]) -> None:
        settings = load_settings(env)
        engine = get_engine(settings.database_url)
        today = self.yesterday + timedelta(days=1)
        try:
            for rows in DAY_ROWS:
                with ds.realtime_rows(engine, self.tz, rows, scale.seed) as held:
                    wait_until_quiet(self.server, log, self.args.quiet_timeout)
                    started = time.perf_counter()
                    # As the ETL stores today: up to its last settled quarter hour.
                    materialize_day(engine, today, self.tz, covered_until=covered_until(today, self.tz, utc_now()))
                    seconds = time.perf_counter() - started
                    self.points.append(Point("day-rows", held, f"{held:,} rows", "one day's materialization",
                                             round(seconds, 2), "s", f"today at {scale.name}"))
                    log(f"  a day of {held:,} rows: {seconds:.2f} s")
                    self.overview_of_today(engine, today, held)
                # Today again without them.
                materialize_day(engine, today, self.tz, covered_until=covered_until(today, self.tz, utc_now()))
        finally:
            engine.dispose()

    def overview_of_today(self, engine, today: date, held: int) -> None:
        """Today's overview in one process as the fold-in left it (stored up to its last settled
        quarter hour, the rest from the ledger): computed, as after every change, and kept."""
        def ask(question):
            with snapshot(engine) as conn:
                return question(conn)

        computed = repeat_timed(lambda: ask(lambda conn: token_overview(conn, today, today, self.tz)),
                                at_least=20, at_most=200, budget_seconds=5)
        kept = repeat_timed(lambda: answer(engine, token_overview, today, today, self.tz),
                            at_least=20, at_most=200, budget_seconds=5)
        for series, timing in (("overview of today, computed", computed), ("overview of today, kept", kept)):
            self.points.append(Point("day-rows", held, f"{held:,} rows", series, timing.p95_ms, "ms p95",
                                     f"{timing.samples} calls in one process, median {timing.median_ms} ms"))
            log(f"  {series}: p95 {timing.p95_ms} ms")

    # -- output -------------------------------------------------------------------------------

    def write(self, directory: Path, stem: str) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = [directory / f"{stem}.md"]
        written[0].write_text(self.markdown(stem))
        for axis in sorted({point.axis for point in self.points}):
            path = directory / f"{stem}-{axis}.png"
            chart(axis, [point for point in self.points if point.axis == axis], path)
            written.append(path)
        (OUT_DIR / f"{stem}.json").parent.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / f"{stem}.json").write_text(json.dumps(
            {"points": [point.__dict__ for point in self.points],
             "comparisons": [{"figure": c.figure, "ratios": c.comparison.ratios, "target": c.target,
                              "verdict": c.verdict} for c in self.called],
             "datasets": {name: d.summary() for name, d in self.datasets.items()}}, default=str, indent=1))
        return written

    def markdown(self, stem: str) -> str:
        lines = ["Datasets: " + "; ".join(
            f"`{name}` {d.ledger_rows:,} ledger rows, {d.users:,} users, built in {d.build_seconds:,.0f} s"
            for name, d in self.datasets.items()), ""]
        for axis in AXES:
            points = [point for point in self.points if point.axis == axis]
            if not points:
                continue
            xs = sorted({(point.x, point.x_label) for point in points})
            series = list(dict.fromkeys(point.series for point in points))
            lines += [f"### {axis}", "", f"![{axis}]({stem}-{axis}.png)", "",
                      "| | " + " | ".join(label for _, label in xs) + " |",
                      "|---|" + "---|" * len(xs)]
            for name in series:
                cells = []
                for x, _ in xs:
                    found = [p for p in points if p.series == name and p.x == x]
                    cells.append(f"{found[0].value:,} {found[0].unit}" if found and found[0].value is not None else "")
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        if self.called:
            lines += ["### interleaved comparisons", "", "| figure | median (min–max, rounds) | target | verdict |",
                      "|---|---|---|---|"]
            lines += [f"| {c.figure} | {c.comparison.text()} | {c.target} | {c.verdict} |" for c in self.called]
            lines.append("")
        return "\n".join(lines)


def chart(axis: str, points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    units = list(dict.fromkeys(point.unit for point in points))
    figure, panels = pyplot.subplots(1, len(units), figsize=(7 * len(units), 4.5), squeeze=False)
    for panel, unit in zip(panels[0], units):
        for series in dict.fromkeys(p.series for p in points if p.unit == unit):
            mine = sorted((p.x, p.value) for p in points if p.series == series and p.unit == unit and p.value is not None)
            panel.plot([x for x, _ in mine], [v for _, v in mine], marker="o", label=series)
        panel.set_xscale("log")
        panel.set_xlabel({"range": "days in the range", "rows": "ledger rows", "users": "users",
                          "day-rows": "ledger rows in the day"}[axis])
        panel.set_ylabel(unit)
        panel.grid(True, which="both", alpha=0.3)
        panel.legend(fontsize=7)
    figure.suptitle(f"growth: {axis}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--axis", action="append", choices=AXES, help="an axis to measure (repeatable; default all)")
    parser.add_argument("--range-scale", default="10m", choices=sorted(SCALES), help="the dataset of the range axis")
    parser.add_argument("--scales", default="1m,10m",
                        help="datasets of the rows axis, smallest first (comma-separated)")
    parser.add_argument("--users-scales", default="users20k,10m,users1m",
                        help="datasets of the users axis, fewest users first (comma-separated)")
    parser.add_argument("--day-scale", default="10m", choices=sorted(SCALES), help="the dataset of the day-rows axis")
    parser.add_argument("--max-age-days", type=int, default=7)
    parser.add_argument("--quiet-timeout", type=float, default=120)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks")
    parser.add_argument("--stem", default=f"{date.today().isoformat()}-growth",
                        help="the report's file name without .md (its charts add -<axis>.png)")
    parser.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"))
    args = parser.parse_args(argv)
    axes = args.axis or list(AXES)
    growth = Growth(args)
    try:
        if "range" in axes:
            log(f"range axis at {args.range_scale}")
            growth.at_scale(SCALES[args.range_scale], growth.range_axis)
        for axis, measure, names in (("rows", growth.rows_axis, args.scales),
                                     ("users", growth.users_axis, args.users_scales)):
            if axis in axes:
                for name in names.split(","):
                    log(f"{axis} axis at {name}")
                    growth.at_scale(SCALES[name], measure)
        if "day-rows" in axes:
            log(f"day-rows axis at {args.day_scale}")
            growth.at_scale(SCALES[args.day_scale], growth.day_rows_axis)
    finally:  # what was measured is written even when a later axis fails
        growth.server.dispose()
        written = growth.write(args.out, args.stem)
        print(growth.markdown(written[0].stem))
        log("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
