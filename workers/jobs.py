"""The actors, declared on a given broker with given settings.

`workers.actors` declares them on the process's broker (what `dramatiq workers.actors` runs);
tests declare them on a broker of their own. Each actor is a thin wrapper around `core`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import dramatiq
from dramatiq.middleware.time_limit import TimeLimitExceeded

from core import metrics
from core.config import Settings
from core.db import get_engine
from core.etl.job import fold_in, run_etl
from core.etl.lock import EtlAlreadyRunning
from core.exports import state
from core.exports.generation import TRANSIENT_FAILURE, generate_export, is_transient
from core.exports.maintenance import expire_exports, fail_stuck_exports, requeue_lost_exports
from core.exports.records import fail_export
from core.exports.status import ExportStatus

EXPORTS_QUEUE = "exports"
GENERATE_EXPORT = "generate_export"
EXPORT_RETRIES_EXHAUSTED = "export_retries_exhausted"
# A transient database error (lost connection, deadlock) gets this many attempts in all, 1 s
# then 2 s apart (Dramatiq's backoff from `min_backoff`); then the export is failed.
EXPORT_ATTEMPTS = 3
EXPORT_RETRY_BACKOFF_MS = 1000
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
    if record is None or record["status"] == ExportStatus.PREPARING:
        return
    completed = record["completed_at"]
    metrics.export_finished(
        record["dataset"], record["type"], record["status"],
        None if completed is None else (completed - record["created_at"]).total_seconds(),
        (record["actual_rows"] or 0) if record["status"] == ExportStatus.READY else 0,
    )


def declare_actors(broker: dramatiq.Broker, settings: Settings) -> dict[str, dramatiq.Actor]:
    engine = get_engine(settings.database_url)

    def generate(export_id: str) -> None:
        # Failures become a `failed` export inside core; a transient database error escapes,
        # and Dramatiq retries the message (`retry_when`).
        try:
            generate_export(engine, settings, export_id)
        except TimeLimitExceeded:  # raised into this thread by Dramatiq; core has removed its temp file
            with engine.begin() as conn:
                fail_export(conn, export_id, f"Timed out after {EXPORT_TIME_LIMIT_MS // 60_000} minutes; narrow the filters")
        with engine.connect() as conn:
            _observe_export(state.load(conn, export_id))

    def retry_generation(retries: int, error: Exception) -> bool:
        return is_transient(error) and retries < EXPORT_ATTEMPTS - 1

    def give_up(message: dict, retry_info: dict) -> None:
        """The last attempt met a transient error too: the export fails instead of waiting."""
        with engine.begin() as conn:
            fail_export(conn, message["args"][0], TRANSIENT_FAILURE)

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
            retry_when=retry_generation, min_backoff=EXPORT_RETRY_BACKOFF_MS, time_limit=EXPORT_TIME_LIMIT_MS,
            on_retry_exhausted=EXPORT_RETRIES_EXHAUSTED,
        ),
        EXPORT_RETRIES_EXHAUSTED: dramatiq.actor(
            give_up, broker=broker, actor_name=EXPORT_RETRIES_EXHAUSTED, queue_name=EXPORTS_QUEUE,
        ),
    }


def clean_up_exports(settings: Settings, enqueue_export: Callable[[str], None] | None) -> str:
    """The export janitor's three steps, as `exports cleanup` and the scheduler run them; what it did.
    With no `enqueue_export` (no queue a worker reads) lost exports are not queued again."""
    engine = get_engine(settings.database_url)
    expired = expire_exports(engine, settings)
    stuck = fail_stuck_exports(engine, settings)  # first: an export past saving is not queued again
    requeued = requeue_lost_exports(engine, settings, enqueue_export) if enqueue_export else 0
    return (f"Cleaned up {expired} expired export(s); queued {requeued} lost export(s) again; "
            f"failed {stuck} stuck export(s)")
