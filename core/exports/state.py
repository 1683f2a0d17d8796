"""The one owner of `analytics_exports` rows: every status change and every progress write.

    preparing ──> ready ──> expired
        ├───────> failed
        └───────> canceled

Each transition into ready, failed, canceled or expired writes its webhook event in the same
transaction (`core.exports.webhooks.record_event`, when webhooks are on), so an event exists
exactly when its change committed.

Each function takes the connection of its caller's transaction and changes a row only from the
status it expects, so two writers that race (a worker finishing, the janitor giving up) cannot
both win.

An export whose queue message was lost (Redis restarted without persistence, or dropped it)
would otherwise wait for nobody. Every attempt of a worker stamps `progress_at` when it starts
and with every progress report; an export `preparing` with no such sign of life for
EXPORT_REQUEUE_MINUTES is lost, and is queued again once (`requeued_at` records it). Whatever
is still `preparing` after EXPORT_STUCK_MINUTES is failed: a re-enqueued message lost as well,
or a worker that hangs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import Settings
from core.exports import webhooks
from core.exports.status import ExportStatus
from core.tables import analytics_exports


def insert(conn: Connection, record: dict) -> None:
    """A new export, `preparing`."""
    conn.execute(sa.insert(analytics_exports).values({**record, "status": ExportStatus.PREPARING}))


def load(conn: Connection, export_id: str) -> dict | None:
    row = conn.execute(sa.select(analytics_exports).where(analytics_exports.c.id == export_id)).first()
    return None if row is None else row._asdict()


def answering(conn: Connection, user_id: int, request_digest: str, now: datetime) -> dict | None:
    """The admin's export that already answers this request: `preparing`, or `ready` and
    unexpired; the newest if several."""
    e = analytics_exports.c
    row = conn.execute(
        sa.select(analytics_exports)
        .where(e.user_id == user_id, e.request_digest == request_digest,
               sa.or_(e.status == ExportStatus.PREPARING, sa.and_(e.status == ExportStatus.READY, e.expires_at > now)))
        .order_by(e.id.desc()).limit(1)
    ).first()
    return None if row is None else row._asdict()


def by_idempotency_key(conn: Connection, user_id: int, key: str, since: datetime) -> dict | None:
    """The export the admin first created with this key since `since`."""
    e = analytics_exports.c
    row = conn.execute(
        sa.select(analytics_exports).where(e.user_id == user_id, e.idempotency_key == key, e.created_at >= since)
        .order_by(e.id).limit(1)
    ).first()
    return None if row is None else row._asdict()


def preparing_count(conn: Connection, user_id: int) -> int:
    e = analytics_exports.c
    return conn.execute(sa.select(sa.func.count()).where(e.user_id == user_id, e.status == ExportStatus.PREPARING)
                        ).scalar_one()


def _preparing(export_id: str) -> sa.Update:
    return sa.update(analytics_exports).where(analytics_exports.c.id == export_id, analytics_exports.c.status == ExportStatus.PREPARING)


def start_attempt(conn: Connection, export_id: str, now: datetime) -> bool:
    """A worker starts (or starts over): no rows written yet, alive now. False if not preparing."""
    return conn.execute(_preparing(export_id).values(rows_written=0, progress_at=now)).rowcount == 1


def record_progress(conn: Connection, export_id: str, rows_written: int, now: datetime) -> None:
    conn.execute(_preparing(export_id).values(rows_written=rows_written, progress_at=now))


def _changed(conn: Connection, settings: Settings, change: sa.Update, export_id: str, now: datetime) -> bool:
    """Apply a conditional change of one export; if it applied, record its event. Whether it did."""
    if conn.execute(change).rowcount != 1:
        return False
    webhooks.record_event(conn, settings, load(conn, export_id), now)
    return True


def publish(conn: Connection, settings: Settings, export_id: str, file_path: str, *, rows: int, size: int,
            now: datetime, expires_at: datetime) -> bool:
    """`preparing` → `ready`; False if it had finished some other way meanwhile."""
    return _changed(conn, settings, _preparing(export_id).values(
        status=ExportStatus.READY, actual_rows=rows, rows_written=rows, file_size=size,
        file_path=file_path, completed_at=now, expires_at=expires_at,
    ), export_id, now)


def fail(conn: Connection, settings: Settings, export_id: str, message: str, now: datetime) -> bool:
    """`preparing` → `failed`; False if it had finished some other way meanwhile."""
    return _changed(conn, settings, _preparing(export_id).values(
        status=ExportStatus.FAILED, error_message=message, completed_at=now), export_id, now)


def cancel(conn: Connection, settings: Settings, export_id: str, now: datetime) -> None:
    """The admin's cancel: `preparing` → `canceled` (its worker stops at its next check and
    publishes nothing), `ready` → `expired` at once (the caller deletes the file); any other
    status stays as it is, so a second cancel changes nothing."""
    e = analytics_exports.c
    if not _changed(conn, settings, _preparing(export_id).values(status=ExportStatus.CANCELED, completed_at=now),
                    export_id, now):
        _changed(conn, settings, sa.update(analytics_exports).where(e.id == export_id, e.status == ExportStatus.READY)
                 .values(status=ExportStatus.EXPIRED, expires_at=now), export_id, now)


def is_preparing(conn: Connection, export_id: str) -> bool:
    e = analytics_exports.c
    return conn.execute(sa.select(e.status).where(e.id == export_id)).scalar() == ExportStatus.PREPARING


def stuck_message(settings: Settings) -> str:
    return (
        f"Timed out: still preparing after {settings.export_stuck_minutes} minutes "
        "(the worker may have stopped); create the export again"
    )


def stuck_cutoff(settings: Settings, now: datetime) -> datetime:
    return now - timedelta(minutes=settings.export_stuck_minutes)


def fail_stuck(conn: Connection, settings: Settings, now: datetime, *, user_id: int | None = None) -> int:
    """Fail the exports `preparing` for longer than EXPORT_STUCK_MINUTES (0: never); the count.

    The one stuck rule: the janitor applies it to every export, a read of an admin's exports
    (one or the list) to theirs first, so no list shows an export waiting for nobody.
    """
    if settings.export_stuck_minutes == 0:
        return 0
    e = analytics_exports.c
    stuck = sa.and_(e.status == ExportStatus.PREPARING, e.created_at < stuck_cutoff(settings, now))
    values = {"status": ExportStatus.FAILED, "error_message": stuck_message(settings), "completed_at": now}
    return _change_each(conn, settings, stuck, values, now, user_id)


def _change_each(conn: Connection, settings: Settings, condition: sa.ColumnElement, values: dict, now: datetime,
                 user_id: int | None) -> int:
    """Change every export that meets `condition` (of one admin, or all), one at a time so each
    change records its own event; the count changed. Conditional again per row: another
    transaction may have changed it since the SELECT."""
    e = analytics_exports.c
    query = sa.select(e.id).where(condition)
    if user_id is not None:
        query = query.where(e.user_id == user_id)
    changed = 0
    for export_id in conn.execute(query).scalars().all():
        change = sa.update(analytics_exports).where(e.id == export_id, condition).values(values)
        changed += _changed(conn, settings, change, export_id, now)
    return changed


def claim_lost(conn: Connection, settings: Settings, now: datetime) -> list[str]:
    """The exports whose message looks lost, each marked re-enqueued (once in its life); the
    caller queues them again. EXPORT_REQUEUE_MINUTES=0 turns this off."""
    if settings.export_requeue_minutes == 0:
        return []
    silent_since = now - timedelta(minutes=settings.export_requeue_minutes)
    lost = sa.and_(
        analytics_exports.c.status == ExportStatus.PREPARING,
        analytics_exports.c.requeued_at.is_(None),
        sa.func.coalesce(analytics_exports.c.progress_at, analytics_exports.c.created_at) < silent_since,
    )
    claimed = []
    for export_id in conn.execute(sa.select(analytics_exports.c.id).where(lost)).scalars():
        # Conditional again: another janitor may have claimed it since the SELECT.
        if conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == export_id, lost)
                        .values(requeued_at=now, progress_at=now)).rowcount == 1:
            claimed.append(export_id)
    return claimed


def expire_due(conn: Connection, settings: Settings, now: datetime, *, user_id: int | None = None) -> int:
    """`ready` exports past `expires_at` → `expired`; the count. Their files go afterwards
    (the janitor's `expired_files`)."""
    e = analytics_exports.c
    due = sa.and_(e.status == ExportStatus.READY, e.expires_at <= now)
    return _change_each(conn, settings, due, {"status": ExportStatus.EXPIRED}, now, user_id)


def settle(conn: Connection, settings: Settings, now: datetime, user_id: int) -> None:
    """An admin's exports as they are at `now`, before any of them is read: stuck ones failed,
    those past their expiry expired (whether or not the janitor has run), so no status lies."""
    fail_stuck(conn, settings, now, user_id=user_id)
    expire_due(conn, settings, now, user_id=user_id)


def expired_files(conn: Connection) -> list[tuple[str, str]]:
    """(export id, file name) of expired exports whose file may still be on disk."""
    return [tuple(row) for row in conn.execute(
        sa.select(analytics_exports.c.id, analytics_exports.c.file_path)
        .where(analytics_exports.c.status == ExportStatus.EXPIRED, analytics_exports.c.file_path.is_not(None)))]


def forget_file(conn: Connection, export_id: str) -> None:
    conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == export_id).values(file_path=None))
