"""A redis-server of a test's own on a free loopback port, to freeze (SIGSTOP) or kill."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from tests.bench.services import LOOPBACK, free_port
from tests.conftest import IN_CI

START_SECONDS = 10


class RedisServer:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.url = f"redis://{LOOPBACK}:{port}/0"

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait()


@contextmanager
def own_redis_server(tmp_path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("CI=true and redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    server = RedisServer(process, port)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            server.kill()


def _wait_until_up(server: RedisServer) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            redis.Redis.from_url(server.url, socket_timeout=1).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise
            time.sleep(0.05)

