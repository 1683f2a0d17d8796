"""Throughput under concurrent load on loopback: wrk when installed, else a Python client.

The Python client runs as its own process (`python -m tests.bench.load ...`) so it does not
share the harness's interpreter; it is bounded by a request count and a time cap, like wrk's
duration. wrk is far cheaper per request, which matters on 2 cores shared with the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.services import LOOPBACK, PROJECT_ROOT
from tests.bench.stats import percentile

# Keep-alive connections are shared out among gunicorn's workers by whichever accepts first: with
# 16 opened at once, all 16 went to one worker in about a third of the rounds, which then ran on
# one core (GET /healthz 2,100 req/s against 5,400 when both workers had some). With 64 every
# round seen gave both workers some.
CONNECTIONS = 64
WRK_REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float

    @property
    def requests_per_second(self) -> float:
        return round(self.requests / self.seconds, 1) if self.seconds else 0.0


def run_load(port: int, path: str, token: str, *, seconds: int, max_requests: int) -> LoadResult:
    if shutil.which("wrk"):
        return _wrk(port, path, token, seconds)
    return _python_client(port, path, token, seconds, max_requests)


def _wrk(port: int, path: str, token: str, seconds: int) -> LoadResult:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(WRK_REPORT_SCRIPT),
         "-H", f"Authorization: Bearer {token}", f"http://{LOOPBACK}:{port}{path}"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult("wrk", summary["requests"], summary["duration_us"] / 1e6, summary["non_2xx"],
                      summary["socket_errors"], summary["p50_us"] / 1000, summary["p95_us"] / 1000)


def _python_client(port: int, path: str, token: str, seconds: int, max_requests: int) -> LoadResult:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.load", "--port", str(port), "--path", path, "--token", token,
         "--seconds", str(seconds), "--max-requests", str(max_requests)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=seconds + 60, check=True,
    )
    return LoadResult(**json.loads(done.stdout))


def _client_main() -> None:
    parser = argparse.ArgumentParser(description="bounded keep-alive load on one loopback URL")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--max-requests", type=int, required=True)
    args = parser.parse_args()

    lock = threading.Lock()
    latencies: list[float] = []
    failures = {"non_2xx": 0, "socket_errors": 0}
    issued = [0]
    deadline = time.monotonic() + args.seconds
    headers = {"Authorization": f"Bearer {args.token}"}

    def take_ticket() -> bool:
        with lock:
            if issued[0] >= args.max_requests or time.monotonic() >= deadline:
                return False
            issued[0] += 1
            return True

    def connection_loop() -> None:
        conn = http.client.HTTPConnection(LOOPBACK, args.port, timeout=10)
        while take_ticket():
            start = time.perf_counter()
            try:
                conn.request("GET", args.path, headers=headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                conn.close()
                with lock:
                    failures["socket_errors"] += 1
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not 200 <= response.status < 300:
                    failures["non_2xx"] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=connection_loop) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    millis = [value * 1000 for value in latencies] or [0.0]
    print(json.dumps({
        "tool": f"python http.client, {CONNECTIONS} threads", "requests": len(latencies), "seconds": elapsed,
        **failures, "p50_ms": percentile(millis, 0.5), "p95_ms": percentile(millis, 0.95),
    }))


if __name__ == "__main__":
    _client_main()
