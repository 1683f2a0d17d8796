"""Prometheus metrics of every process on a host (web workers, Dramatiq worker processes,
scheduler), in prometheus-client's multiprocess mode: each process writes its samples to files
in METRICS_DIR and `GET /metrics` adds them up.

prometheus-client picks its storage when it is first imported, from PROMETHEUS_MULTIPROC_DIR,
which the CLI (the entry point of every process) sets from METRICS_DIR. So nothing here imports
it before the first metric is recorded or scraped, whatever imports this module first. Figures
that live in the database or in Redis (ETL lag, pending changes, queue depths, live workers)
are read when /metrics is scraped (`StateCollector`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from types import SimpleNamespace

from core.config import PROMETHEUS_DIR_VARIABLE

# (name, help, labels, samples of (label values, value)) of a gauge read at scrape time
Gauge = tuple[str, str, list[str], list[tuple[list[str], float]]]


_made: list[SimpleNamespace] = []
_making = threading.Lock()


def _metrics() -> SimpleNamespace:
    """The metrics, made once per process (by the first of the request threads to need them:
    making them twice would register them twice)."""
    if not _made:
        with _making:
            if not _made:
                _made.append(_make())
    return _made[0]


def _make() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        http_requests=Counter("wallet_analytics_http_requests_total", "HTTP requests answered",
                              ["route", "method", "status"]),
        http_duration=Histogram("wallet_analytics_http_request_duration_seconds", "Time to answer a request",
                                ["route", "method"],
                                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
        exports_created=Counter("wallet_analytics_exports_created_total", "Exports asked for", ["dataset", "format"]),
        exports_finished=Counter("wallet_analytics_exports_finished_total", "Exports finished, by their status",
                                 ["dataset", "format", "status"]),
        export_duration=Histogram("wallet_analytics_export_duration_seconds", "From asking for an export to its end",
                                  ["dataset", "format"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)),
        export_rows=Counter("wallet_analytics_export_rows_total", "Rows written to ready exports",
                            ["dataset", "format"]),
        etl_runs=Counter("wallet_analytics_etl_runs_total", "ETL runs (fold-ins that materialized a day included)",
                         ["trigger", "status"]),
        etl_duration=Histogram("wallet_analytics_etl_run_duration_seconds", "ETL run time", ["trigger"],
                               buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)),
        etl_days=Counter("wallet_analytics_etl_days_materialized_total", "Days materialized", ["trigger"]),
    )


def request_answered(route: str, method: str, status: int, seconds: float) -> None:
    metrics = _metrics()
    metrics.http_requests.labels(route, method, str(status)).inc()
    metrics.http_duration.labels(route, method).observe(seconds)


def export_created(dataset: str, file_format: str) -> None:
    _metrics().exports_created.labels(dataset, file_format).inc()


def export_finished(dataset: str, file_format: str, status: str, seconds: float | None, rows: int) -> None:
    metrics = _metrics()
    metrics.exports_finished.labels(dataset, file_format, status).inc()
    if seconds is not None:
        metrics.export_duration.labels(dataset, file_format).observe(seconds)
    metrics.export_rows.labels(dataset, file_format).inc(rows)


def etl_run_finished(trigger: str, status: str, days: int, seconds: float) -> None:
    metrics = _metrics()
    metrics.etl_runs.labels(trigger, status).inc()
    metrics.etl_duration.labels(trigger).observe(seconds)
    metrics.etl_days.labels(trigger).inc(days)


def scrape(read_state: Callable[[], Iterable[Gauge]]) -> tuple[bytes, str]:
    """The text exposition of every process's metrics, plus the gauges `read_state` reads now."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _metrics()  # every metric is listed, even before this process records one
    if os.environ.get(PROMETHEUS_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:  # a single process (no directory): its own metrics
        registry = REGISTRY
    state = _StateCollector(read_state)
    registry.register(state)
    try:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    finally:
        registry.unregister(state)


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit: drop the live gauges of a dead web worker."""
    if os.environ.get(PROMETHEUS_DIR_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _StateCollector:
    def __init__(self, read: Callable[[], Iterable[Gauge]]):
        self._read = read

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        for name, help_text, labels, samples in self._read():
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for values, value in samples:
                family.add_metric(values, value)
            yield family
