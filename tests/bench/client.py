"""A keep-alive HTTP client for timing single requests against the loopback server."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlencode

from tests.bench.services import LOOPBACK
from tests.bench.stats import Timing, summarize

REQUEST_TIMEOUT_SECONDS = 120


class RouteFailed(Exception):
    """The route answered something other than 200: an error of the run, with the status."""

    def __init__(self, status: int):
        super().__init__(f"error: answered {status}")
        self.status = status


class ApiClient:
    def __init__(self, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_SECONDS)

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None) -> tuple[int, bytes]:
        url = f"{path}?{urlencode(params)}" if params else path
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, url, body=payload, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection; one fresh try.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str, params: dict | None = None) -> tuple[int, object]:
        status, body = self.request("GET", path, params)
        return status, _json_or_text(body)

    def post_json(self, path: str, body: dict) -> tuple[int, object]:
        status, raw = self.request("POST", path, body=body)
        return status, _json_or_text(raw)

    def close(self) -> None:
        self.conn.close()


def _json_or_text(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body[:500].decode(errors="replace")


def time_get(client: ApiClient, path: str, params: dict, *, warmup: int, requests: int) -> Timing:
    """Median and p95 of `requests` GETs after `warmup` untimed ones; raises RouteFailed on non-200."""
    for _ in range(warmup):
        status, _ = client.request("GET", path, params)
        if status != 200:
            raise RouteFailed(status)
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        status, _ = client.request("GET", path, params)
        samples.append(time.perf_counter() - start)
        if status != 200:
            raise RouteFailed(status)
    return summarize(samples)
