"""Slow clients against the shipped web deployment: `python -m tests.soak.run` (`make soak`).

Starts, on loopback only, a MariaDB database and a Redis db number of its own, gunicorn with
deploy/gunicorn.conf.py and Debian's nginx with deploy/nginx-api.conf (tests/stack.py). Then, for
nginx + gunicorn and for gunicorn alone, it times a normal analytics request (GET overview, a new
connection each, one every PROBE_INTERVAL_SECONDS) first on a quiet server, then while
400 silent connections, 50 slowloris clients, 50 slow request bodies and 50 clients reading a
download at 1 KB/s are all at it (gunicorn alone also against each kind on its own). An attacker
the server drops comes back at once. Every loop is bounded in count and in time; the whole run
takes about five minutes and stops itself.
The table goes to stdout and to docs/benchmarks/<UTC date>-soak.md. Exit status 1 when nginx +
gunicorn under attack misses its target: p95 <= 100 ms and no failed request.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import gunicorn
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.config import load_settings
from core.dates import local_today
from core.db import get_engine
from core.exports.generation import generate_export
from tests.bench.services import LOOPBACK, PROJECT_ROOT, redis_lease, run_cli
from tests.stack import ACCEL_PREFIX, Gunicorn, Nginx, nginx_binary

MYSQL_SERVER_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
REPORT_TIMEZONE = "Asia/Kolkata"
OUT_DIR = PROJECT_ROOT / "docs" / "benchmarks"

WARMUP_SECONDS = 5          # attackers connect before the timing starts
MEASURE_SECONDS = 30
QUIET_SECONDS = 10
WARM_SECONDS = 3
PROBE_INTERVAL_SECONDS = 0.1
MAX_PROBES = 400            # bounds the probe loop whatever the clock does
PROBE_TIMEOUT_SECONDS = 10  # a probe slower than this is a failure
TARGET_P95_MS = 100
WEB_WORKERS, WEB_THREADS = 2, 4  # the shipped defaults on this 2-core machine
READ_BYTES_PER_SECOND = 1024
SLOW_BODY_BYTES, SLOW_BODY_CHUNK = 60_000, 100
RECONNECT_PAUSE_SECONDS = 0.2


def log(message: str) -> None:
    print(f"[soak {datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass(frozen=True)
class Mix:
    """How many attackers of each kind."""

    silent: int = 0
    slowloris: int = 0
    slow_bodies: int = 0
    slow_readers: int = 0

    def __str__(self) -> str:
        kinds = [(self.silent, "silent"), (self.slowloris, "slowloris"), (self.slow_bodies, "slow bodies"),
                 (self.slow_readers, "slow readers")]
        return " + ".join(f"{count} {name}" for count, name in kinds if count)


FULL_ATTACK = Mix(silent=400, slowloris=50, slow_bodies=50, slow_readers=50)  # issue 12's mix
# gunicorn alone: each kind on its own as well, to say what it withstands.
ALONE_ATTACKS = (Mix(silent=8), Mix(silent=400), Mix(slowloris=10), Mix(slow_bodies=10), Mix(slow_readers=10),
                 FULL_ATTACK)


# --- attackers: asyncio tasks, each looping until the deadline ----------------------------------

async def _connect(port: int, receive_buffer: int | None = None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        # A small window, so that the kernel does not read the download for the slow client.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
    return await asyncio.open_connection(sock=sock)


async def _silent(port: int, deadline: float) -> None:
    reader, writer = await _connect(port)
    try:
        await asyncio.wait_for(reader.read(1), timeout=max(0.0, deadline - time.monotonic()))
    finally:
        writer.close()


async def _slowloris(port: int, deadline: float) -> None:
    reader, writer = await _connect(port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n")
        for line in range(int(deadline - time.monotonic()) + 1):
            await writer.drain()
            if reader.at_eof() or time.monotonic() >= deadline:
                return
            await asyncio.sleep(1)
            writer.write(b"X-Slow-%d: 1\r\n" % line)  # a header a second, never the end of the head
    finally:
        writer.close()


async def _slow_body(port: int, deadline: float, token: str) -> None:
    reader, writer = await _connect(port)
    try:
        writer.write(b"POST /api/v1/admin/analytics/exports HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer "
                     + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(SLOW_BODY_BYTES).encode() + b"\r\n\r\n")
        for _ in range(SLOW_BODY_BYTES // SLOW_BODY_CHUNK):
            await writer.drain()
            if reader.at_eof() or time.monotonic() >= deadline:
                return
            await asyncio.sleep(1)
            writer.write(b" " * SLOW_BODY_CHUNK)
    finally:
        writer.close()


async def _slow_reader(port: int, deadline: float, download_path: str) -> None:
    reader, writer = await _connect(port, receive_buffer=4096)
    try:
        writer.write(b"GET " + download_path.encode() + b" HTTP/1.1\r\nHost: soak\r\n\r\n")
        await writer.drain()
        for _ in range(int(deadline - time.monotonic()) + 1):
            if not await reader.read(READ_BYTES_PER_SECOND) or time.monotonic() >= deadline:
                return
            await asyncio.sleep(1)
    finally:
        writer.close()


async def _keep_attacking(attack, deadline: float, counts: dict, name: str, *args) -> None:
    while time.monotonic() < deadline:
        counts[name] += 1
        try:
            await asyncio.wait_for(attack(*args), timeout=max(0.1, deadline - time.monotonic()))
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # dropped or refused: come back
        await asyncio.sleep(RECONNECT_PAUSE_SECONDS)


async def _attack(mix: Mix, port: int, deadline: float, token: str, download_path: str, counts: dict) -> None:
    tasks = (
        [_keep_attacking(_silent, deadline, counts, "silent", port, deadline) for _ in range(mix.silent)]
        + [_keep_attacking(_slowloris, deadline, counts, "slowloris", port, deadline) for _ in range(mix.slowloris)]
        + [_keep_attacking(_slow_body, deadline, counts, "slow body", port, deadline, token)
           for _ in range(mix.slow_bodies)]
        + [_keep_attacking(_slow_reader, deadline, counts, "slow reader", port, deadline, download_path)
           for _ in range(mix.slow_readers)]
    )
    await asyncio.gather(*tasks)


# --- the measured client -------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    latencies_ms: list[float]
    failures: int
    attacker_connections: dict | None

    @property
    def probes(self) -> int:
        return len(self.latencies_ms) + self.failures

    def percentile(self, p: float) -> float | None:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else None
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]

    @property
    def meets_target(self) -> bool:
        p95 = self.percentile(95)
        return self.failures == 0 and p95 is not None and p95 <= TARGET_P95_MS


def _probe(port: int, path: str, headers: dict, seconds: float, result: Result) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(MAX_PROBES):
        if time.monotonic() >= deadline:
            return
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=PROBE_TIMEOUT_SECONDS)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            ok = response.status == 200
        except OSError:
            ok = False
        elapsed = time.perf_counter() - started
        if ok:
            result.latencies_ms.append(elapsed * 1000)
        else:
            result.failures += 1
        time.sleep(max(0.0, PROBE_INTERVAL_SECONDS - elapsed))


def measure(scenario: str, port: int, probe_path: str, token: str, download_path: str, mix: Mix | None) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    if mix is None:
        # Unrecorded first requests: each gunicorn worker's first query pays for its connections.
        _probe(port, probe_path, headers, WARM_SECONDS, Result("warm-up", [], 0, None))
        result = Result(scenario + ", quiet", [], 0, None)
        _probe(port, probe_path, headers, QUIET_SECONDS, result)
        return result
    counts = {"silent": 0, "slowloris": 0, "slow body": 0, "slow reader": 0}
    result = Result(f"{scenario}, {mix}", [], 0, counts)
    deadline = time.monotonic() + WARMUP_SECONDS + MEASURE_SECONDS
    prober = threading.Timer(WARMUP_SECONDS, _probe, args=(port, probe_path, headers, MEASURE_SECONDS, result))
    prober.start()
    asyncio.run(_attack(mix, port, deadline, token, download_path, counts))
    prober.join(PROBE_TIMEOUT_SECONDS + 5)
    return result


# --- set-up, run, report -------------------------------------------------------------------------

def _prepare(env: dict, gunicorn: Gunicorn, today) -> tuple[str, str]:
    """(admin token, signed download path of a transactions export of a few MB)."""
    token = run_cli(["token"], env, timeout=120).stdout.strip()
    first, last = today - timedelta(days=60), today
    conn = http.client.HTTPConnection(LOOPBACK, gunicorn.port, timeout=30)
    conn.request("POST", "/api/v1/admin/analytics/exports", body=orjson.dumps(
        {"dataset": "transactions", "filters": {"from": first.isoformat(), "to": last.isoformat()}}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    created = orjson.loads(response.read())
    if response.status != 201:
        raise SystemExit(f"could not create the export: {response.status} {created}")
    settings = load_settings(env, needs_download_secret=True)
    generate_export(get_engine(settings.database_url), settings, created["export_id"])  # the worker's job
    conn.request("GET", f"/api/v1/admin/analytics/exports/{created['export_id']}",
                 headers={"Authorization": f"Bearer {token}"})
    status = orjson.loads(conn.getresponse().read())
    conn.close()
    log(f"export of {status['actual_rows']:,} rows, {status['file_size'] / 2**20:.1f} MB, for the slow readers")
    return token, status["download_url"]


def run(work_dir: Path) -> list[Result]:
    binary = nginx_binary()
    if binary is None:
        raise SystemExit("nginx is not installed: apt-get install nginx (`make soak` does)")
    server = sa.create_engine(MYSQL_SERVER_URL, isolation_level="AUTOCOMMIT")
    database = f"wa_soak_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        with redis_lease(REDIS_SERVER_URL) as redis_url:
            env = {**os.environ, "DATABASE_URL": f"{MYSQL_SERVER_URL}/{database}", "REDIS_URL": redis_url,
                   "JWT_SECRET": secrets.token_urlsafe(48), "EXPORT_DIR": str(work_dir / "exports"),
                   "REPORT_TIMEZONE": REPORT_TIMEZONE}
            log(f"database {database}: migrate and demo data")
            run_cli(["migrate"], env, timeout=300)
            run_cli(["demo-data", "--users", "500", "--days", "60"], env, timeout=900)
            run_cli(["etl"], env, timeout=900)  # the probe reads materialized days, as in production
            today = local_today(ZoneInfo(REPORT_TIMEZONE))
            probe_path = (f"/api/v1/admin/analytics/tokens/overview?from={today - timedelta(days=29)}"
                          f"&to={today - timedelta(days=1)}")
            return _scenarios(binary, env, work_dir, today, probe_path)
    finally:
        get_engine(make_url(f"{MYSQL_SERVER_URL}/{database}")).dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
        server.dispose()


def _scenarios(binary: str, env: dict, work_dir: Path, today, probe_path: str) -> list[Result]:
    results = []
    behind_nginx = {**env, "EXPORT_ACCEL_PREFIX": ACCEL_PREFIX}
    gunicorn = Gunicorn(behind_nginx, work_dir / "logs-nginx", workers=WEB_WORKERS, threads=WEB_THREADS)
    try:
        token, download_path = _prepare(behind_nginx, gunicorn, today)
        nginx = Nginx(binary, work_dir / "nginx", gunicorn.port, work_dir / "exports")
        try:
            for mix in (None, FULL_ATTACK):
                log(f"nginx + gunicorn, {mix or 'quiet'}")
                results.append(measure("nginx + gunicorn", nginx.port, probe_path, token, download_path, mix))
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()
    gunicorn = Gunicorn(env, work_dir / "logs-alone", workers=WEB_WORKERS, threads=WEB_THREADS)
    try:
        for mix in (None, *ALONE_ATTACKS):
            log(f"gunicorn alone, {mix or 'quiet'}")
            results.append(measure("gunicorn alone", gunicorn.port, probe_path, token, download_path, mix))
    finally:
        gunicorn.stop()
    return results


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(results: list[Result], started: datetime, load_before: str) -> str:
    nginx_version = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=False).stderr.strip()
    lines = [
        f"# Soak: slow clients against the web deployment, {started:%Y-%m-%d %H:%M} UTC",
        "",
        "`make soak` (tests/soak/run.py). Loopback only; MariaDB and Redis on this machine.",
        "",
        f"- machine: {os.cpu_count()} cores, shared with other work (load average before the run: "
        f"{load_before}); Python {platform.python_version()}, {nginx_version.removeprefix('nginx version: ')}, "
        f"gunicorn {gunicorn.__version__} (gthread, {WEB_WORKERS} workers x {WEB_THREADS} threads)",
        f"- probe: GET tokens/overview over 29 materialized days (demo data, 500 users), a new connection each, "
        f"every {PROBE_INTERVAL_SECONDS * 1000:.0f} ms; {PROBE_TIMEOUT_SECONDS} s or a status other than 200 "
        f"is a failure",
        f"- attackers, all at once for {WARMUP_SECONDS} s before and the {MEASURE_SECONDS} s of the probe: "
        "silent connections (connect, send nothing); slowloris clients (a header line a second, never the "
        f"end of the head); slow request bodies ({SLOW_BODY_CHUNK} bytes a second of {SLOW_BODY_BYTES:,}); slow "
        f"readers (an export download read at {READ_BYTES_PER_SECOND} bytes a second through a 4 KB receive "
        "buffer). An attacker that is dropped reconnects. Issue 12's mix: " + str(FULL_ATTACK),
        f"- target (issue 12): behind nginx, under attack, p95 <= {TARGET_P95_MS} ms and no failure",
        "",
        "| scenario | probes | failed | p50 ms | p95 ms | p99 ms | max ms | attacker connections opened |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        attackers = ", ".join(f"{name} {count}" for name, count in r.attacker_connections.items()) \
            if r.attacker_connections else "-"
        lines.append(f"| {r.scenario} | {r.probes} | {r.failures} | {_ms(r.percentile(50))} | "
                     f"{_ms(r.percentile(95))} | {_ms(r.percentile(99))} | "
                     f"{_ms(max(r.latencies_ms) if r.latencies_ms else None)} | {attackers} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    work_dir = PROJECT_ROOT / "var" / "soak" / f"{started:%Y%m%dT%H%M%S}"
    work_dir.mkdir(parents=True)
    results = run(work_dir)
    table = report(results, started, load_before)
    print(table)
    if not args.no_write:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        out = OUT_DIR / f"{started:%Y-%m-%d}-soak.md"
        out.write_text(table)
        log(f"written to {out.relative_to(PROJECT_ROOT)}; logs under {work_dir.relative_to(PROJECT_ROOT)}")
    attacked_behind_nginx = next(r for r in results if r.scenario == f"nginx + gunicorn, {FULL_ATTACK}")
    return 0 if attacked_behind_nginx.meets_target else 1


if __name__ == "__main__":
    sys.exit(main())
