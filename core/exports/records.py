"""An admin's exports: creating one after the row estimate, reading one, listing them, and failing
one that cannot be queued. Each takes the connection of its caller's transaction; every change
of a row goes through `core.exports.state`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from ulid import ULID

from core.config import Settings
from core.dates import utc_now
from core.errors import BusinessRuleViolation, NotFound, Unauthorized, ValidationError, excerpt
from core.exports import state
from core.exports.validation import ExportRequest
from core.numbers import is_ascii_digits
from core.tables import analytics_exports, users

MAX_ROWS = 100_000
_ULID_ALPHABET = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100


def estimate_rows(conn: Connection, settings: Settings, request: ExportRequest) -> int:
    return conn.execute(request.dataset.count(request.filters, settings.report_timezone)).scalar_one()


def create_export(conn: Connection, settings: Settings, user_id: int, request: ExportRequest) -> dict:
    """Record a `preparing` export after checking the row limit; the caller commits, then enqueues it."""
    # The admin may have been deleted since the (briefly cached) check of their token: a 401, not
    # a foreign-key error. The shared lock keeps the row until this transaction ends.
    owner = sa.select(users.c.id).where(users.c.id == user_id).with_for_update(read=True)
    if conn.execute(owner).first() is None:
        raise Unauthorized("The token's user no longer exists; ask for a new token")
    estimated = estimate_rows(conn, settings, request)
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
        "estimated_rows": estimated,
        "created_at": utc_now(),
    }
    state.insert(conn, record)
    return state.load(conn, record["id"])


def check_export_id(raw: str, name: str = "export_id") -> str:
    if len(raw) != 26 or not set(raw) <= _ULID_ALPHABET or raw[0] > "7":
        raise ValidationError(f"{name} must be a 26-character ULID; got {excerpt(repr(raw))}")
    return raw


def get_export(conn: Connection, settings: Settings, user_id: int, export_id: str) -> dict:
    """The caller's export; another admin's is as unknown as a missing one (404)."""
    check_export_id(export_id)
    state.settle(conn, settings, utc_now(), user_id)
    record = state.load(conn, export_id)
    if record is None or record["user_id"] != user_id:
        raise NotFound("Export not found")
    return record


def list_exports(conn: Connection, settings: Settings, user_id: int, *, limit: object = None,
                 cursor: str | None = None):
    """A page of the caller's exports, newest first, and the cursor of the next page (or None)."""
    limit = _page_limit(limit)
    query = sa.select(analytics_exports).where(analytics_exports.c.user_id == user_id)
    if cursor is not None:  # an empty one is a bad one
        query = query.where(analytics_exports.c.id < check_export_id(cursor, "cursor"))
    query = query.order_by(analytics_exports.c.id.desc()).limit(limit + 1)
    state.settle(conn, settings, utc_now(), user_id)
    records = [row._asdict() for row in conn.execute(query)]
    next_cursor = records[limit - 1]["id"] if len(records) > limit else None
    return records[:limit], next_cursor


def _page_limit(raw: object) -> int:
    if raw is None:
        return LIST_LIMIT_DEFAULT
    if not (is_ascii_digits(raw, 3) and 1 <= int(raw) <= LIST_LIMIT_MAX):
        raise ValidationError(f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}; got {excerpt(repr(raw))}")
    return int(raw)


def fail_export(conn: Connection, export_id: str, message: str) -> bool:
    """Mark a `preparing` export failed; False if it had already finished some other way."""
    return state.fail(conn, export_id, message, utc_now())
