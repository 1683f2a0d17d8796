"""Prometheus metrics of every process on a host (web workers, Dramatiq worker processes,
scheduler), in prometheus-client's multiprocess mode: each process writes its samples to files
in METRICS_DIR and `GET /metrics` adds them up.

prometheus-client picks its storage when it is first imported, from PROMETHEUS_MULTIPROC_DIR:
the CLI (the entry point of every process) sets it from METRICS_DIR before anything imports
this module. Figures that live in the database or in Redis (ETL lag, pending
changes, queue depths, live workers) are read when /metrics is scraped (`StateCollector`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from core.config import PROMETHEUS_DIR_VARIABLE

HTTP_REQUESTS = Counter("wallet_analytics_http_requests_total", "HTTP requests answered",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("wallet_analytics_http_request_duration_seconds", "Time to answer a request",
                          ["route", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EXPORTS_CREATED = Counter("wallet_analytics_exports_created_total", "Exports asked for", ["dataset", "format"])
EXPORTS_FINISHED = Counter("wallet_analytics_exports_finished_total", "Exports finished, by their status",
                           ["dataset", "format", "status"])
EXPORT_DURATION = Histogram("wallet_analytics_export_duration_seconds", "From asking for an export to its end",
                            ["dataset", "format"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
EXPORT_ROWS = Counter("wallet_analytics_export_rows_total", "Rows written to ready exports", ["dataset", "format"])
ETL_RUNS = Counter("wallet_analytics_etl_runs_total", "ETL runs (fold-ins that materialized a day included)",
                   ["trigger", "status"])
ETL_DURATION = Histogram("wallet_analytics_etl_run_duration_seconds", "ETL run time", ["trigger"],
                         buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800))
ETL_DAYS = Counter("wallet_analytics_etl_days_materialized_total", "Days materialized", ["trigger"])


def scrape(state: StateCollector) -> tuple[bytes, str]:
    """The text exposition of every process's metrics plus the state read now."""
    registry = CollectorRegistry()
    if os.environ.get(PROMETHEUS_DIR_VARIABLE):
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (tests without the directory): its own metrics
        from prometheus_client import REGISTRY

        registry = REGISTRY
    registry.register(state)
    try:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    finally:
        registry.unregister(state)


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit: drop the live gauges of a dead web worker."""
    if os.environ.get(PROMETHEUS_DIR_VARIABLE):
        multiprocess.mark_process_dead(pid)


class StateCollector:
    """Gauges read at scrape time: `read` returns (name, help, labels, samples)."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, list[str], list[tuple[list[str], float]]]]]):
        self._read = read

    def collect(self):
        for name, help_text, labels, samples in self._read():
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for values, value in samples:
                family.add_metric(values, value)
            yield family
