"""End to end with the Procfile's processes (web, worker, scheduler) on MariaDB + Redis: a late
change on a materialized day is in the answers at once, and in analytics_token_daily within 60 s,
with nobody running `etl`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.dates import local_today
from core.tables import purchases
from tests.conftest import forget_queued_messages, make_token
from tests.etl_helpers import KOLKATA, etl, token_daily
from tests.factories import add_ledger, add_purchase, add_user
from workers.broker import build_broker

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FOLDED_WITHIN_SECONDS = 60
DAY = local_today(KOLKATA) - timedelta(days=60)
NEXT = DAY + timedelta(days=1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def procfile(db, env, settings, tmp_path):
    """`wallet-analytics web`, `worker` and `scheduler`, each in its own process group."""
    if db.dialect.name == "sqlite":
        pytest.skip("the Procfile's processes share MariaDB and Redis")
    forget_queued_messages(build_broker(settings))
    port = _free_port()
    environ = {**os.environ, **env, "PORT": str(port), "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
               "WORKER_PROCESSES": "1", "WORKER_THREADS": "2"}
    processes = []
    for role in ("web", "worker", "scheduler"):
        log = (tmp_path / f"{role}.log").open("w")
        processes.append(subprocess.Popen([sys.executable, "-m", "workers.cli", role], cwd=PROJECT_ROOT, env=environ,
                                          start_new_session=True, stdout=log, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text()) from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _overview(base: str) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/admin/analytics/tokens/overview?from={DAY}&to={NEXT}",
        headers={"Authorization": f"Bearer {make_token()}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Data-Fresh-As-Of"]
        return json.loads(response.read())


@pytest.fixture
def materialized(db, settings):
    add_user(db, 1, role="admin")
    add_user(db, 2)
    add_ledger(db, 2, "credit", 1_000, f"{DAY} 06:00:00", reason="purchase")
    add_ledger(db, 2, "debit", 300, f"{NEXT} 06:00:00", reason="chapter_generation")
    add_purchase(db, 2, f"{DAY} 05:59:00", amount_inr="499.00")
    etl(db, settings, dates=[DAY, NEXT])
    return db


def test_a_late_change_is_answered_at_once_and_folded_in_within_a_minute(materialized, procfile):
    db = materialized
    assert _overview(procfile) == {"credited": 1_000, "debited": 300, "net": 700, "revenue_in_inr": 499.0,
                                   "active_users": 1}

    add_ledger(db, 1, "credit", 100_000, f"{DAY} 09:00:00", reason="admin_adjustment")
    with db.begin() as conn:
        conn.execute(purchases.update().values(status="refunded"))
        conn.execute(sa.text("DELETE FROM wallet_ledger WHERE amount = 300"))
    changed_at = time.monotonic()

    assert _overview(procfile) == {"credited": 101_000, "debited": 0, "net": 101_000, "revenue_in_inr": 0.0,
                                   "active_users": 2}

    while True:
        stored = token_daily(db)
        if stored[DAY]["credited"] == 101_000 and stored[NEXT]["debited"] == 0:
            break
        assert time.monotonic() - changed_at < FOLDED_WITHIN_SECONDS, "not folded in within 60 s"
        time.sleep(0.5)
    assert stored[DAY]["revenue_in_inr"] == Decimal("0.00") and stored[DAY]["active_users"] == 2
    assert stored[DAY]["created_at"] <= stored[DAY]["updated_at"]
    assert _overview(procfile)["credited"] == 101_000
