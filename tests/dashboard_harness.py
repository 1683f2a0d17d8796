"""What the dashboard's browser tests and `make screenshots` share: the app served on loopback by
`wallet-analytics serve` (API and an in-process Dramatiq worker), and Debian's headless chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling Google, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
CLI = str(Path(sys.executable).with_name("wallet-analytics"))
PANELS_SETTLED = """() => [...document.querySelectorAll('[data-panel]')]
    .every((panel) => panel.dataset.state && panel.dataset.state !== 'loading')"""


def run_cli(env: dict, *args: str) -> None:
    subprocess.run([CLI, *args], env={**os.environ, **env}, check=True, capture_output=True, timeout=600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(env: dict, log_path: Path):
    """The all-in-one server on a free loopback port; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([CLI, "serve", "--port", str(port)], env={**os.environ, **env},
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def demo_env(database_url: str, redis_url: str, jwt_secret: str, folder: Path) -> dict:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": jwt_secret,
        "EXPORT_DIR": str(folder / "exports"),
        "REPORT_TIMEZONE": "Asia/Kolkata",
        "WALLET_ANALYTICS_DEMO": "",
    }


@contextmanager
def demo_server(env: dict, folder: Path, prepare: Callable[[], None] | None = None):
    """Demo data (150 users, 120 days, a fixed seed) on the database of `env` (`demo_env`),
    then `prepare` (a test's own rows), then served on MariaDB + Redis; yields the base URL."""
    run_cli(env, "migrate")
    run_cli(env, "demo-data", "--users", "150", "--days", "120", "--seed", "7", "--replace")
    if prepare:
        prepare()
    with served(env, folder / "server.log") as base_url:
        yield base_url


def _wait_until_up(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            urllib.request.urlopen(f"{base_url}/healthz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within 60 s:\n{log_path.read_text()}")


def api_get(base_url: str, token: str, path: str, **params) -> tuple[int, dict]:
    """What the API answers the page's own question: (status, body)."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
    request = urllib.request.Request(f"{base_url}/api/v1/admin/analytics{path}{'?' + query if query else ''}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read() or b"{}")


def live(server: str, token: str, path: str, **params) -> dict:
    """The API's answer to the same question the page asked (which must be a 200)."""
    status, body = api_get(server, token, path, **params)
    assert status == 200, body
    return body


def playwright_or_skip():
    """Playwright's sync API, for a browser test module to call at import: the module is skipped
    (with what to install) when Debian's chromium is missing, except under CI=true."""
    from tests.conftest import IN_CI  # here, not at the top: tests/conftest.py imports this module

    if not os.path.exists(CHROMIUM) and not IN_CI:
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make test does, as root with apt-get)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_signed_in(browser, base_url: str, token: str, *, width: int = 1280, height: int = 900, query: str = "",
                   color_scheme: str = "light", bypass_csp: bool = False):
    """A page opened the way `make demo`'s link opens it, once every panel has answered
    (`bypass_csp` lets a test inject a script, such as axe-core)."""
    page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=color_scheme,
                            bypass_csp=bypass_csp)
    page.goto(f"{base_url}/admin/{query}#token={token}")
    page.wait_for_selector("#dashboard-view:not([hidden])")
    page.wait_for_function(PANELS_SETTLED)
    return page


# Fixtures of every browser test module (imported by tests/conftest.py); each module
# brings its own `server` and `token`.
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server, token):
    page = open_signed_in(browser, server, token)
    yield page
    page.close()
