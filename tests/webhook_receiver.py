"""A real HTTP receiver of webhook events on loopback, for the tests: it answers each POST as
its script says (a status, or a pause longer than the sender's timeout first), keeps what it
received, and can be down (not listening on its port) and come up later on the same port."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from tests.bench.services import LOOPBACK, free_port

WAIT_SECONDS = 30  # a safety net against a hung test, not a speed requirement


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    # What to answer, one entry per request, then 200 for the rest: a status code, or
    # ("sleep", seconds) to pause that long before answering 200.
    script: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/hooks/exports"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(Received(dict(self.headers.items()), body))
                answer = receiver.script.pop(0) if receiver.script else 200
                if isinstance(answer, tuple):
                    time.sleep(answer[1])
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, event_type: str | None = None) -> list[dict]:
        return [r.event for r in self.received if event_type is None or r.event["type"] == event_type]


def verify_signature(received: Received, secret: str) -> int:
    """The signature's timestamp, after checking it as a receiver would (Stripe's scheme)."""
    parts = dict(part.split("=", 1) for part in received.headers["Wallet-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "bad signature"
    return int(parts["t"])


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT_SECONDS} s: {what}")
