"""The processes the benchmark drives: the `wallet-analytics` CLI, gunicorn, a Dramatiq worker,
the scheduler.

Every long-lived process runs in its own process group and is stopped with its children, on
success, failure or Ctrl-C alike. Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import psutil
import redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "wallet-analytics"
LOOPBACK = "127.0.0.1"
# The same key and protocol as tests/conftest.py, so a `make test` running beside the benchmark
# never takes (and flushes) the Redis db number the benchmark's worker is consuming.
REDIS_LOCK_KEY = "wallet-analytics:test-run"
REDIS_LEASE_SECONDS = 4 * 3600
STOP_GRACE_SECONDS = 15


class CommandFailed(RuntimeError):
    pass


def run_cli(args: list[str], env: dict[str, str], *, timeout: float) -> subprocess.CompletedProcess:
    """Run `wallet-analytics ARGS`; a non-zero exit raises with the command's own words."""
    done = subprocess.run(
        [str(CLI), *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        # The last line of a traceback or of the CLI's own message says what went wrong.
        last_line = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CommandFailed(f"wallet-analytics {' '.join(args)} exited {done.returncode}: {last_line}")
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@contextmanager
def redis_lease(server_url: str) -> Iterator[str]:
    """A Redis db number of our own (1-15), emptied before and after use."""
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{server_url}/{number}")
        if client.set(REDIS_LOCK_KEY, f"bench:{os.getpid()}", nx=True, ex=REDIS_LEASE_SECONDS):
            client.flushdb()
            client.set(REDIS_LOCK_KEY, f"bench:{os.getpid()}", ex=REDIS_LEASE_SECONDS)
            try:
                yield f"{server_url}/{number}"
            finally:
                client.flushdb()
            return
    raise RuntimeError("no free Redis db number (1-15) for the benchmark")


class ManagedProcess:
    """A `wallet-analytics` subcommand in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.log_start = log.tell()
            self.popen = subprocess.Popen(
                [str(CLI), *args], env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def log_since_start(self) -> bytes:
        with open(self.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read()

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")

    def processes(self) -> list[psutil.Process]:
        """The process and all its descendants (gunicorn and Dramatiq fork their workers)."""
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # Forked children can outlive a parent that died first; the group takes them too.
        _signal_group(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(STOP_GRACE_SECONDS)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def wait_ready(port: int, process: ManagedProcess, timeout: float = 60) -> None:
    """Until GET /readyz answers 200 (database and Redis reachable)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
            conn.request("GET", "/readyz")
            response = conn.getresponse()
            last = f"{response.status} {response.read()[:200]!r}"
            conn.close()
            if response.status == 200:
                return
        except OSError as error:
            last = repr(error)
        time.sleep(0.2)
    raise TimeoutError(f"/readyz on port {port} not ready after {timeout:.0f} s: {last}")


def wait_worker_started(process: ManagedProcess, worker_processes: int, timeout: float = 60) -> None:
    """Until every Dramatiq worker process says it is consuming, so export timings start clean."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_alive()
        if process.log_since_start().count(b"Worker process is ready for action") >= worker_processes:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the Dramatiq worker did not start within {timeout:.0f} s; see {process.log_path}")


class AppStack:
    """gunicorn (2 workers) and one Dramatiq worker on a loopback port; stopped on exit."""

    WEB_WORKERS = 2
    WORKER_PROCESSES = 2
    WORKER_THREADS = 4

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.port = free_port()
        self.env = {**env, "BIND": f"{LOOPBACK}:{self.port}", "PORT": str(self.port),
                    "WEB_CONCURRENCY": str(self.WEB_WORKERS)}
        self.log_dir = log_dir
        self.web: ManagedProcess | None = None
        self.worker: ManagedProcess | None = None

    def __enter__(self) -> Self:
        try:
            self.web = ManagedProcess("web", ["web"], self.env, self.log_dir)
            self.start_worker()
            wait_ready(self.port, self.web)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start_worker(self) -> None:
        self.worker = ManagedProcess("worker", [
            "worker", "--processes", str(self.WORKER_PROCESSES), "--threads", str(self.WORKER_THREADS),
        ], self.env, self.log_dir)
        wait_worker_started(self.worker, self.WORKER_PROCESSES)

    def restart_worker(self) -> None:
        """A fresh worker, so that its memory high-water mark belongs to the next job alone."""
        if self.worker:
            self.worker.stop()
        self.start_worker()

    @contextmanager
    def scheduler(self) -> Iterator[ManagedProcess]:
        """`wallet-analytics scheduler` beside web and worker, as the Procfile runs them, with the
        shipped FOLD_INTERVAL_SECONDS whatever the caller's environment says; stopped on exit."""
        env = {name: value for name, value in self.env.items() if name != "FOLD_INTERVAL_SECONDS"}
        process = ManagedProcess("scheduler", ["scheduler"], env, self.log_dir)
        try:
            yield process
        finally:
            process.stop()

    def worker_processes(self) -> list[psutil.Process]:
        """The processes that run actors: Dramatiq's forked workers, not the parent that supervises
        them (its own peak, from start-up, is higher than an idle worker's and would hide theirs)."""
        processes = self.worker.processes() if self.worker else []
        return processes[1:] or processes

    def stop(self) -> None:
        for process in (self.worker, self.web):
            if process:
                process.stop()
