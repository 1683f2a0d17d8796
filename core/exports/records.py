"""An admin's exports: creating one after the row estimate, reading one, listing them, and failing
one that cannot be queued. Each takes the connection of its caller's transaction; every change
of a row goes through `core.exports.state`."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from ulid import ULID

from core.config import Settings
from core.dates import utc_now
from core.dialect import take_write_lock
from core.errors import BusinessRuleViolation, NotFound, RateLimited, Unauthorized, ValidationError, excerpt
from core.exports import state
from core.exports.formats import FORMATS, NO_COMPRESSION
from core.exports.validation import ExportRequest, parse_page_limit
from core.tables import analytics_exports, users

_ULID_ALPHABET = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100
IDEMPOTENCY_WINDOW = timedelta(hours=24)
RATE_LIMIT_RETRY_SECONDS = 30


def estimate_rows(conn: Connection, settings: Settings, request: ExportRequest) -> int:
    return conn.execute(request.dataset.count(request.filters, settings.report_timezone)).scalar_one()


def create_export(conn: Connection, settings: Settings, user_id: int, request: ExportRequest,
                  idempotency_key: str | None = None) -> tuple[dict, bool]:
    """The export that answers the request, and whether it is new (`preparing`: the caller
    commits, then enqueues it) or one the admin already has: the first made with this
    Idempotency-Key in the last 24 h (a different request under the key is 422), or an equal
    one still `preparing` or `ready`. Over EXPORT_MAX_ACTIVE_PER_ADMIN exports `preparing`,
    RateLimited (429); over the row limit, 422."""
    # The admin may have been deleted since the (briefly cached) check of their token: a 401, not
    # a foreign-key error. The lock keeps the row until this transaction ends, and makes one
    # admin's requests wait for each other: two equal ones at once make one export.
    take_write_lock(conn)
    owner = sa.select(users.c.id).where(users.c.id == user_id).with_for_update()
    if conn.execute(owner).first() is None:
        raise Unauthorized("The token's user no longer exists; ask for a new token")
    now = utc_now()
    state.settle(conn, settings, now, user_id)
    digest = request_digest(request)
    if idempotency_key is not None:
        earlier = state.by_idempotency_key(conn, user_id, idempotency_key, now - IDEMPOTENCY_WINDOW)
        if earlier is not None:
            if earlier["request_digest"] != digest:
                raise BusinessRuleViolation("This Idempotency-Key was used with a different request in the last "
                                            "24 hours; use a new key for a new export")
            return earlier, False
    equal = state.answering(conn, user_id, digest, now)
    if equal is not None:
        return equal, False
    limit = settings.export_max_active_per_admin
    if limit and state.preparing_count(conn, user_id) >= limit:
        raise RateLimited(f"You have {limit} exports preparing, the most at once; try again when one is done",
                          RATE_LIMIT_RETRY_SECONDS)
    estimated = estimate_rows(conn, settings, request)
    _check_size(settings, request, estimated)
    record = {
        "id": str(ULID()),
        "user_id": user_id,
        "type": request.type,
        "dataset": request.dataset.name,
        "filters": request.filters,
        "columns": request.columns,
        "compression": request.compression,
        "excel": request.excel,
        "estimated_rows": estimated,
        "created_at": now,
        "request_digest": digest,
        "idempotency_key": idempotency_key,
    }
    state.insert(conn, record)
    return state.load(conn, record["id"]), True


def max_rows(settings: Settings, export_type: str) -> int:
    """The most rows an export of this type may have: EXPORT_MAX_ROWS, or less if the format holds less."""
    return min(settings.export_max_rows, FORMATS[export_type].max_rows or settings.export_max_rows)


def _check_size(settings: Settings, request: ExportRequest, estimated: int) -> None:
    if estimated > settings.export_max_rows:
        raise BusinessRuleViolation(
            f"This export would have {estimated:,} rows, more than the limit of {settings.export_max_rows:,}; "
            "narrow the filters (a shorter date range, a user, a status)"
        )
    if estimated > max_rows(settings, request.type):
        raise BusinessRuleViolation(
            f"This export would have {estimated:,} rows, more than an Excel sheet holds "
            f"({max_rows(settings, request.type):,} besides its header); narrow the filters, or ask for csv or parquet"
        )


def request_digest(request: ExportRequest) -> str:
    """What an export was asked for, as 32 hex digits: equal requests, equal digests."""
    asked = {"type": request.type, "dataset": request.dataset.name, "filters": request.filters,
             "columns": request.columns}
    # Only when asked for, so the digests of requests made before they existed stay the same.
    if request.compression != NO_COMPRESSION:
        asked["compression"] = request.compression
    if request.excel:
        asked["excel"] = True
    return hashlib.blake2b(orjson.dumps(asked, option=orjson.OPT_SORT_KEYS, default=str), digest_size=16).hexdigest()


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


def cancel_export(conn: Connection, settings: Settings, user_id: int, export_id: str) -> dict:
    """Cancel one of the caller's exports (`core.exports.state.cancel`); the record after it."""
    get_export(conn, settings, user_id, export_id)  # the caller's, or 404
    state.cancel(conn, settings, export_id, utc_now())
    return state.load(conn, export_id)


def list_exports(conn: Connection, settings: Settings, user_id: int, *, limit: object = None,
                 cursor: str | None = None):
    """A page of the caller's exports, newest first, and the cursor of the next page (or None)."""
    limit = parse_page_limit(limit, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX)
    query = sa.select(analytics_exports).where(analytics_exports.c.user_id == user_id)
    if cursor is not None:  # an empty one is a bad one
        query = query.where(analytics_exports.c.id < check_export_id(cursor, "cursor"))
    query = query.order_by(analytics_exports.c.id.desc()).limit(limit + 1)
    state.settle(conn, settings, utc_now(), user_id)
    records = [row._asdict() for row in conn.execute(query)]
    next_cursor = records[limit - 1]["id"] if len(records) > limit else None
    return records[:limit], next_cursor


def fail_export(conn: Connection, settings: Settings, export_id: str, message: str) -> bool:
    """Mark a `preparing` export failed; False if it had already finished some other way."""
    return state.fail(conn, settings, export_id, message, utc_now())
