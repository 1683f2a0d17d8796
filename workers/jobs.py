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
from core.exports import state, webhooks
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
# Webhook deliveries have a queue of their own: a receiver that is down, slow or failing never
# holds up export generation.
WEBHOOKS_QUEUE = "webhooks"
DELIVER_WEBHOOK = "deliver_webhook"
WEBHOOK_MAX_AGE_MS = int(webhooks.DELIVERY_WINDOW.total_seconds() * 1000)
ETL_QUEUE = "etl"
NIGHTLY_ETL = "nightly_etl"
FOLD_CHANGES = "fold_changes"
# What the job workers consume; the webhooks queue has workers of its own.
JOB_QUEUES = (EXPORTS_QUEUE, ETL_QUEUE)
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
    from workers.enqueue import webhook_enqueuer  # it names this module's queues

    engine = get_engine(settings.database_url)
    enqueue_webhook = webhook_enqueuer(broker)

    def generate(export_id: str) -> None:
        # Failures become a `failed` export inside core; a transient database error escapes,
        # and Dramatiq retries the message (`retry_when`).
        try:
            generate_export(engine, settings, export_id)
        except TimeLimitExceeded:  # raised into this thread by Dramatiq; core has removed its temp file
            with engine.begin() as conn:
                fail_export(conn, settings, export_id, f"Timed out after {EXPORT_TIME_LIMIT_MS // 60_000} minutes; narrow the filters")
        with engine.connect() as conn:
            _observe_export(state.load(conn, export_id))
        webhooks.dispatch(engine, settings, enqueue_webhook)  # the event of `ready` or `failed`, at once

    def retry_generation(retries: int, error: Exception) -> bool:
        return is_transient(error) and retries < EXPORT_ATTEMPTS - 1

    def give_up(message: dict, retry_info: dict) -> None:
        """The last attempt met a transient error too: the export fails instead of waiting."""
        with engine.begin() as conn:
            fail_export(conn, settings, message["args"][0], TRANSIENT_FAILURE)
        webhooks.dispatch(engine, settings, enqueue_webhook)

    def deliver_webhook(event_id: str) -> None:
        """One attempt; a failed one is retried by Dramatiq with exponential backoff, for up to
        24 hours (max_age), without a traceback in the log."""
        try:
            webhooks.deliver(engine, settings, event_id)
        except webhooks.WebhookNotDelivered as error:
            raise dramatiq.Retry(str(error)) from None

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
        DELIVER_WEBHOOK: dramatiq.actor(
            deliver_webhook, broker=broker, actor_name=DELIVER_WEBHOOK, queue_name=WEBHOOKS_QUEUE,
            max_retries=None, max_age=WEBHOOK_MAX_AGE_MS, min_backoff=settings.export_webhook_min_backoff_ms,
            max_backoff=settings.export_webhook_max_backoff_ms,
            time_limit=int((webhooks.LEASE_MARGIN.total_seconds() + settings.export_webhook_timeout_seconds) * 1000),
        ),
    }


def clean_up_exports(settings: Settings, enqueue_export: Callable[[str], None] | None,
                     enqueue_webhook: Callable[[str], None] | None = None) -> str:
    """The export janitor's steps, as `exports cleanup` and the scheduler run them; what it did.
    With no `enqueue_export` (no queue a worker reads) lost exports are not queued again; with
    no `enqueue_webhook` webhook events wait for a process that has one."""
    engine = get_engine(settings.database_url)
    expired = expire_exports(engine, settings)
    stuck = fail_stuck_exports(engine, settings)  # first: an export past saving is not queued again
    requeued = requeue_lost_exports(engine, settings, enqueue_export) if enqueue_export else 0
    report = (f"Cleaned up {expired} expired export(s); queued {requeued} lost export(s) again; "
              f"failed {stuck} stuck export(s)")
    if enqueue_webhook and settings.export_webhook_url:
        report += f"; queued {webhooks.dispatch(engine, settings, enqueue_webhook)} webhook event(s)"
    return report
