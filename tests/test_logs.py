"""LOG_FORMAT=json: one parseable line per record, with the request's id, admin, route, status and
duration, and never a token, a signature or a secret."""

import io
import json
import logging
import sys
import time
from datetime import date

import pytest

from core.config import load_settings
from core.errors import ConfigError
from core.logs import JsonLines, configure_logging
from tests import factories as f
from tests.conftest import JWT_SECRET, make_token


@pytest.fixture
def json_lines():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("json", "INFO", out)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_request_logs_one_json_line_with_its_context(db, client, json_lines):
    f.add_user(db, 1, role="admin")
    token = make_token()
    response = client.simulate_get("/api/v1/admin/analytics/tokens/overview",
                                   params={"from": "2025-11-01", "to": "2025-11-02"},
                                   headers={"Authorization": f"Bearer {token}", "X-Request-Id": "req-42"})
    assert response.status_code == 200
    [line] = [line for line in json_lines() if line["logger"] == "wallet_analytics.access"]
    assert line["time"].endswith("Z") and line["level"] == "INFO"
    assert (line["request_id"], line["admin_id"], line["method"], line["route"], line["status"]) == (
        "req-42", 1, "GET", "/api/v1/admin/analytics/tokens/overview", 200)
    assert line["duration_ms"] >= 0
    assert "2025-11-01" not in json.dumps(line)  # no query string


def test_no_token_signature_or_secret_reaches_a_log_line(db, client, json_lines):
    f.add_user(db, 1, role="admin")
    token = make_token()
    client.simulate_get("/api/v1/admin/analytics/status", headers={"Authorization": f"Bearer {token}"})
    client.simulate_get("/api/v1/admin/analytics/status", headers={"Authorization": f"Bearer {token}x"})
    signature = "ab" * 32
    client.simulate_get("/exports/01JAAAAAAAAAAAAAAAAAAAAAAA.csv", params={"expires": "9999999999",
                                                                          "signature": signature})
    lines = json.dumps(json_lines())
    assert lines.count('"wallet_analytics.access"') == 3
    for secret in (token, signature, JWT_SECRET, token.split(".")[2]):
        assert secret not in lines


def test_json_lines_carry_the_exception():
    formatter = JsonLines()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed %s", ("job",),
                                                  exc_info=sys.exc_info())
    line = json.loads(formatter.format(record))
    assert line["message"] == "failed job" and "ValueError: boom" in line["exception"]


@pytest.mark.parametrize("name, value", [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")])
def test_a_bad_log_setting_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_an_etl_run_and_an_export_log_json_lines(db, settings, client, admin_headers, worker, json_lines):
    from tests.etl_helpers import etl
    from tests.exports_support import create, wait_until_done

    f.add_ledger(db, 1, "credit", 10, "2025-11-01 06:00:00")
    etl(db, settings, dates=[date(2025, 11, 1)])
    export = create(client, admin_headers, {"dataset": "users"})
    assert wait_until_done(client, admin_headers, export["export_id"])["status"] == "ready"
    def logged(name: str, fragment: str) -> bool:
        return any(line["logger"] == name and fragment in line["message"] for line in json_lines())

    assert logged("core.etl.job", "succeeded: 1 day(s)")
    deadline = time.monotonic() + 10  # the worker logs just after it marks the export ready
    while not logged("core.exports.generation", export["export_id"]):
        assert time.monotonic() < deadline, "no JSON line for the export"
        time.sleep(0.05)


@pytest.mark.parametrize(("level", "scheduler_info_shown"), [("INFO", False), ("DEBUG", True)])
def test_the_schedulers_per_tick_lines_are_quiet_at_info(level, scheduler_info_shown):
    root, executor = logging.getLogger(), logging.getLogger("apscheduler.executors.default")
    handlers, root_level, executor_level = root.handlers[:], root.level, executor.level
    try:
        configure_logging(level=level, stream=io.StringIO())
        assert executor.isEnabledFor(logging.INFO) is scheduler_info_shown
        assert executor.isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        executor.setLevel(executor_level)
