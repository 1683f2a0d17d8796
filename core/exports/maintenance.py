"""The export janitor, run by `exports cleanup` (and every few minutes by the scheduler): expires
old exports and deletes their files, queues lost exports again once, fails stuck ones. Each
step is idempotent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from core.config import Settings
from core.dates import utc_now
from core.errors import ServiceUnavailable
from core.exports import state
from core.exports.storage import storage_of

log = logging.getLogger(__name__)


def expire_exports(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Mark `ready` exports past `expires_at` as `expired` and delete their files; the count.

    The row changes first, so no `ready` export ever points at a deleted file; files of rows
    expired earlier but not yet deleted (a crash in between) are deleted too.
    """
    with engine.begin() as conn:
        expired = state.expire_due(conn, settings, now or utc_now())
    delete_expired_files(engine, settings)
    return expired


def delete_expired_files(engine: Engine, settings: Settings) -> None:
    """Delete the files of expired exports (expired by time, or canceled once `ready`)."""
    with engine.begin() as conn:
        leftovers = state.expired_files(conn)
    storage = storage_of(settings)
    for export_id, name in leftovers:
        storage.delete(Path(name).name)
        with engine.begin() as conn:
            state.forget_file(conn, export_id)


def requeue_lost_exports(engine: Engine, settings: Settings, enqueue: Callable[[str], None],
                         now: datetime | None = None) -> int:
    """Queue again, once, each export whose message looks lost (see `core.exports.state`); the count.

    The mark is committed before the message is sent: a send that fails leaves the export to the
    stuck rule rather than to a second re-enqueue.
    """
    with engine.begin() as conn:
        lost = state.claim_lost(conn, settings, now or utc_now())
    for export_id in lost:
        log.warning("export %s: no sign of a worker for %d minutes; queued again", export_id,
                    settings.export_requeue_minutes)
        try:
            enqueue(export_id)
        except ServiceUnavailable as error:
            log.error("export %s: could not queue it again (%s); the stuck rule will fail it", export_id, error.message)
    return len(lost)


def fail_stuck_exports(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Mark exports `preparing` for longer than EXPORT_STUCK_MINUTES as failed, and delete
    half-written files (temporary files, S3 multipart uploads) no live writer has touched for
    as long; the count of exports failed.

    EXPORT_STUCK_MINUTES=0 turns the janitor off.
    """
    if settings.export_stuck_minutes == 0:
        return 0
    now = now or utc_now()
    with engine.begin() as conn:
        failed = state.fail_stuck(conn, settings, now)
    storage_of(settings).remove_stale_partials(state.stuck_cutoff(settings, now))
    return failed
