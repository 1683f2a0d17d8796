"""The actors, declared on a given broker with given settings.

`workers.actors` declares them on the process's broker (what `dramatiq workers.actors` runs);
tests declare them on a broker of their own. Each actor is a thin wrapper around `core`.
"""

from __future__ import annotations

from functools import partial

import dramatiq
from dramatiq.middleware.time_limit import TimeLimitExceeded

from core import metrics
from core.config import Settings
from core.db import get_engine
from core.etl.job import fold_in, run_etl
from core.etl.lock import EtlAlreadyRunning
from core.exports.generation import generate_export
from core.exports.maintenance import expire_exports
from core.exports.records import fail_export, load_export

EXPORTS_QUEUE = "exports"
GENERATE_EXPORT = "generate_export"
# Longer than any 100,000-row export takes, shorter than EXPORT_STUCK_MINUTES' default (15).
EXPORT_TIME_LIMIT_MS = 10 * 60 * 1000
ETL_QUEUE = "etl"
NIGHTLY_ETL = "nightly_etl"
FOLD_CHANGES = "fold_changes"
QUEUED_ETL = "queued_etl"
# A failed ETL is recorded and picked up by the next night's run; an immediate retry would
# fail the same way. A full backfill may take a while: Dramatiq's default limit is 10 minutes.
ETL_TIME_LIMIT_MS = 6 * 3600 * 1000


def _observe_export(record: dict | None) -> None:
    if record is None or record["status"] == "preparing":
        return
    dataset, file_format = record["dataset"], record["type"]
    metrics.EXPORTS_FINISHED.labels(dataset, file_format, record["status"]).inc()
    if record["completed_at"] is not None:
        metrics.EXPORT_DURATION.labels(dataset, file_format).observe(
            (record["completed_at"] - record["created_at"]).total_seconds())
    if record["status"] == "ready":
        metrics.EXPORT_ROWS.labels(dataset, file_format).inc(record["actual_rows"] or 0)


def declare_actors(broker: dramatiq.Broker, settings: Settings) -> dict[str, dramatiq.Actor]:
    engine = get_engine(settings.database_url)

    def generate(export_id: str) -> None:
        # Failures become a `failed` export inside core; an exception escapes only when even
        # that could not be recorded (database down), and then Dramatiq retries the message.
        try:
            generate_export(engine, settings, export_id)
        except TimeLimitExceeded:  # raised into this thread by Dramatiq; core has removed its temp file
            fail_export(engine, export_id, f"Timed out after {EXPORT_TIME_LIMIT_MS // 60_000} minutes; narrow the filters")
        _observe_export(load_export(engine, export_id))

    def nightly_etl() -> None:
        """The scheduled run, then the expired-export cleanup; waits for a run in progress
        rather than skip the night."""
        run_etl(engine, settings, cleanup=partial(expire_exports, engine, settings), trigger="scheduler", wait=True)

    def fold_changes() -> None:
        """Fold the captured changes in (sent by the scheduler every FOLD_INTERVAL_SECONDS);
        while another run holds the lock there is nothing to do: the next one catches up."""
        try:
            fold_in(engine, settings)
        except EtlAlreadyRunning:
            pass

    def queued_etl(run_id: int) -> None:
        """A run asked for through the API or `etl --enqueue`."""
        run_etl(engine, settings, cleanup=None, trigger="queued", wait=True, queued_run=run_id)

    return {
        FOLD_CHANGES: dramatiq.actor(
            fold_changes, broker=broker, actor_name=FOLD_CHANGES, queue_name=ETL_QUEUE,
            max_retries=0, time_limit=ETL_TIME_LIMIT_MS,
        ),
        QUEUED_ETL: dramatiq.actor(
            queued_etl, broker=broker, actor_name=QUEUED_ETL, queue_name=ETL_QUEUE,
            max_retries=0, time_limit=ETL_TIME_LIMIT_MS,
        ),
        NIGHTLY_ETL: dramatiq.actor(
            nightly_etl, broker=broker, actor_name=NIGHTLY_ETL, queue_name=ETL_QUEUE,
            max_retries=0, time_limit=ETL_TIME_LIMIT_MS,
        ),
        GENERATE_EXPORT: dramatiq.actor(
            generate, broker=broker, actor_name=GENERATE_EXPORT, queue_name=EXPORTS_QUEUE,
            max_retries=3, min_backoff=5_000, time_limit=EXPORT_TIME_LIMIT_MS,
        ),
    }
