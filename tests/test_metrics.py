"""GET /metrics: Prometheus' text format, parsed by the official parser; the counters move."""

import time
from datetime import date

import falcon.testing
from prometheus_client.parser import text_string_to_metric_families

from tests import factories as f
from tests.etl_helpers import etl
from tests.exports_support import create, wait_until_done


def _scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.simulate_get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_exports_and_etl_runs_are_counted(db, settings, client, admin_headers, worker):
    f.add_ledger(db, 1, "credit", 10, "2025-11-01 06:00:00")
    before = _scrape(client)

    client.simulate_get("/api/v1/admin/analytics/tokens/overview", params={"from": "2025-11-01", "to": "2025-11-01"},
                        headers=admin_headers)
    etl(db, settings, dates=[date(2025, 11, 1)])
    export = create(client, admin_headers, {"dataset": "users"})
    assert wait_until_done(client, admin_headers, export["export_id"])["status"] == "ready"
    finished = {"dataset": "users", "format": "csv", "status": "ready"}
    deadline = time.monotonic() + 10  # the worker counts the export just after it marks it ready
    while _value(after := _scrape(client), "wallet_analytics_exports_finished_total", **finished) == \
            _value(before, "wallet_analytics_exports_finished_total", **finished):
        assert time.monotonic() < deadline, "the finished export was never counted"
        time.sleep(0.05)

    route = "/api/v1/admin/analytics/tokens/overview"
    assert _value(after, "wallet_analytics_http_requests_total", route=route, method="GET", status="200") == \
        _value(before, "wallet_analytics_http_requests_total", route=route, method="GET", status="200") + 1
    assert _value(after, "wallet_analytics_http_request_duration_seconds_count", route=route, method="GET") >= 1
    for name, labels in (("wallet_analytics_exports_created_total", {"dataset": "users", "format": "csv"}),
                         ("wallet_analytics_exports_finished_total", {"dataset": "users", "format": "csv",
                                                                       "status": "ready"}),
                         ("wallet_analytics_etl_runs_total", {"trigger": "test", "status": "succeeded"}),
                         ("wallet_analytics_etl_days_materialized_total", {"trigger": "test"})):
        assert _value(after, name, **labels) == _value(before, name, **labels) + 1, name
    assert _value(after, "wallet_analytics_export_rows_total", dataset="users", format="csv") >= 1
    assert ("wallet_analytics_queue_waiting_messages", (("queue", "exports"),)) in after
    assert _value(after, "wallet_analytics_workers_alive") >= 1


def test_pending_changes_are_a_gauge(db, settings, client):
    f.add_user(db, 1)
    f.add_ledger(db, 1, "credit", 10, "2025-11-01 06:00:00")
    etl(db, settings, dates=[date(2025, 11, 1)])
    f.add_ledger(db, 1, "credit", 5, "2025-11-01 07:00:00")
    samples = _scrape(client)
    assert _value(samples, "wallet_analytics_pending_changes") == 1
    assert _value(samples, "wallet_analytics_pending_changed_days") == 1


def test_metrics_answer_only_allowed_addresses(db, settings):
    from web.app import create_app

    client = falcon.testing.TestClient(create_app(settings, enqueue_export=lambda _: None, enqueue_etl=lambda _: None))
    refused = client.simulate_get("/metrics", remote_addr="203.0.113.9")
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    assert client.simulate_get("/metrics", remote_addr="127.0.0.1").status_code == 200
