"""The `analytics_exports` records: creating one after the row estimate, reading the caller's,
listing them, and failing one that cannot finish."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from ulid import ULID

from core.config import Settings
from core.dates import utc_now
from core.errors import BusinessRuleViolation, NotFound, ValidationError, excerpt
from core.exports.validation import ExportRequest
from core.numbers import is_ascii_digits
from core.tables import analytics_exports

MAX_ROWS = 100_000
_ULID_ALPHABET = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100


def estimate_rows(engine: Engine, settings: Settings, request: ExportRequest) -> int:
    with engine.connect() as conn:
        return conn.execute(request.dataset.count(request.filters, settings.report_timezone)).scalar_one()


def create_export(engine: Engine, settings: Settings, user_id: int, request: ExportRequest) -> dict:
    """Record a `preparing` export after checking the row limit; the caller enqueues it."""
    estimated = estimate_rows(engine, settings, request)
    if estimated > MAX_ROWS:
        raise BusinessRuleViolation(
            f"This export would have {estimated:,} rows, more than the limit of {MAX_ROWS:,}; "
            "narrow the filters (a shorter date range, a user, a status)"
        )
    record = {
        "id": str(ULID()),
        "user_id": user_id,
        "type": request.type,
        "dataset": request.dataset.name,
        "filters": request.filters,
        "columns": request.columns,
        "status": "preparing",
        "estimated_rows": estimated,
        "created_at": utc_now(),
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(analytics_exports).values(record))
    return get_export(engine, settings, user_id, record["id"])


def check_export_id(raw: str, name: str = "export_id") -> str:
    if len(raw) != 26 or not set(raw) <= _ULID_ALPHABET or raw[0] > "7":
        raise ValidationError(f"{name} must be a 26-character ULID; got {excerpt(repr(raw))}")
    return raw


def load_export(engine: Engine, export_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(analytics_exports).where(analytics_exports.c.id == export_id)).first()
    return None if row is None else row._asdict()


def get_export(engine: Engine, settings: Settings, user_id: int, export_id: str) -> dict:
    """The caller's export; another admin's is as unknown as a missing one (404)."""
    record = load_export(engine, check_export_id(export_id))
    if record is None or record["user_id"] != user_id:
        raise NotFound("Export not found")
    if _is_stuck(record, settings):
        fail_export(engine, export_id, stuck_message(settings))
        record = load_export(engine, export_id)
    return record


def list_exports(engine: Engine, user_id: int, *, limit: object = None, cursor: str | None = None):
    """A page of the caller's exports, newest first, and the cursor of the next page (or None)."""
    limit = _page_limit(limit)
    query = sa.select(analytics_exports).where(analytics_exports.c.user_id == user_id)
    if cursor is not None:  # an empty one is a bad one
        query = query.where(analytics_exports.c.id < check_export_id(cursor, "cursor"))
    query = query.order_by(analytics_exports.c.id.desc()).limit(limit + 1)
    with engine.connect() as conn:
        records = [row._asdict() for row in conn.execute(query)]
    next_cursor = records[limit - 1]["id"] if len(records) > limit else None
    return records[:limit], next_cursor


def _page_limit(raw: object) -> int:
    if raw is None:
        return LIST_LIMIT_DEFAULT
    if not (is_ascii_digits(raw, 3) and 1 <= int(raw) <= LIST_LIMIT_MAX):
        raise ValidationError(f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}; got {excerpt(repr(raw))}")
    return int(raw)


def fail_export(engine: Engine, export_id: str, message: str, *, now: datetime | None = None) -> bool:
    """Mark a `preparing` export failed; False if it had already finished some other way."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(analytics_exports)
            .where(analytics_exports.c.id == export_id, analytics_exports.c.status == "preparing")
            .values(status="failed", error_message=message, completed_at=now or utc_now())
        )
    return result.rowcount == 1


def stuck_message(settings: Settings) -> str:
    return (
        f"Timed out: still preparing after {settings.export_stuck_minutes} minutes "
        "(the worker may have stopped); create the export again"
    )


def _is_stuck(record: dict, settings: Settings) -> bool:
    return (
        settings.export_stuck_minutes > 0
        and record["status"] == "preparing"
        and record["created_at"] < stuck_cutoff(settings)
    )


def stuck_cutoff(settings: Settings, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(minutes=settings.export_stuck_minutes)
