"""Expiring old exports and failing stuck ones; both idempotent, run by `exports cleanup`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.config import Settings
from core.dates import utc_now
from core.exports.records import stuck_cutoff, stuck_message
from core.tables import analytics_exports

log = logging.getLogger(__name__)


def expire_exports(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Mark `ready` exports past `expires_at` as `expired` and delete their files; the count.

    The row changes first, so no `ready` export ever points at a deleted file; files of rows
    expired earlier but not yet deleted (a crash in between) are deleted too.
    """
    now = now or utc_now()
    with engine.begin() as conn:
        expired = conn.execute(
            sa.update(analytics_exports)
            .where(analytics_exports.c.status == "ready", analytics_exports.c.expires_at <= now)
            .values(status="expired", download_url=None)
        ).rowcount
        leftovers = conn.execute(
            sa.select(analytics_exports.c.id, analytics_exports.c.file_path)
            .where(analytics_exports.c.status == "expired", analytics_exports.c.file_path.is_not(None))
        ).all()
    for export_id, name in leftovers:
        (settings.export_dir / Path(name).name).unlink(missing_ok=True)
        with engine.begin() as conn:
            conn.execute(
                sa.update(analytics_exports).where(analytics_exports.c.id == export_id).values(file_path=None)
            )
    return expired


def fail_stuck_exports(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Mark exports `preparing` for longer than EXPORT_STUCK_MINUTES as failed, and delete
    temporary files no live writer has touched for as long; the count of exports failed.

    EXPORT_STUCK_MINUTES=0 turns the janitor off.
    """
    if settings.export_stuck_minutes == 0:
        return 0
    now = now or utc_now()
    cutoff = stuck_cutoff(settings, now)
    with engine.begin() as conn:
        failed = conn.execute(
            sa.update(analytics_exports)
            .where(analytics_exports.c.status == "preparing", analytics_exports.c.created_at < cutoff)
            .values(status="failed", error_message=stuck_message(settings), completed_at=now)
        ).rowcount
    if settings.export_dir.is_dir():
        cutoff_epoch = cutoff.replace(tzinfo=UTC).timestamp()
        for partial in settings.export_dir.glob(".*.tmp"):
            if partial.stat().st_mtime < cutoff_epoch:
                partial.unlink(missing_ok=True)
    return failed
