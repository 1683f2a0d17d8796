"""Webhook events of export transitions: the one owner of `analytics_export_events` (an outbox)
and `analytics_export_webhook_attempts`.

When an export becomes ready, failed, canceled or expired, `record_event` writes one event in
the transaction of that change (`core.exports.state` calls it), so an event exists exactly when
its transition committed, and at most one per export and type (a unique key). `dispatch` hands
the events nobody has queued yet (or whose message looks lost) to a sender, which queues a
delivery; `deliver` makes one attempt: a signed POST, recorded whatever its outcome. The body
is fixed when the event is written, so every attempt sends the same bytes (signed anew with the
attempt's time, as Stripe does). Delivery is at least once: a receiver that answered 2xx but
whose answer was lost (a crash before it was recorded) sees the event again, with the same
`id` to tell.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from ulid import ULID

from core.config import Settings
from core.dates import iso_local, utc_now
from core.errors import ServiceUnavailable
from core.exports.body import status_body
from core.exports.status import ExportStatus
from core.tables import analytics_export_events, analytics_export_webhook_attempts

log = logging.getLogger(__name__)

EVENT_TYPES = {
    ExportStatus.READY: "export.ready",
    ExportStatus.FAILED: "export.failed",
    ExportStatus.CANCELED: "export.canceled",
    ExportStatus.EXPIRED: "export.expired",
}
SIGNATURE_HEADER = "Wallet-Signature"
# Attempts stop this long after the event (the actor's Dramatiq max_age says the same).
DELIVERY_WINDOW = timedelta(hours=24)
# An attempt holds its event this long beyond the timeout, so a duplicate message waits.
LEASE_MARGIN = timedelta(seconds=30)
# A queued event with no attempt for longer than the longest backoff plus this is queued again.
LOST_MARGIN = timedelta(seconds=60)
MAX_ERROR_CHARS = 255


class WebhookNotDelivered(Exception):
    """The attempt failed (recorded); another may succeed."""


def record_event(conn: Connection, settings: Settings, record: dict, now: datetime) -> None:
    """The event of `record`'s transition to its (final) status; nothing when webhooks are off."""
    if not settings.export_webhook_url:
        return
    event_id, event_type = f"evt_{ULID()}", EVENT_TYPES[ExportStatus(record["status"])]
    body = {"id": event_id, "type": event_type, "created": int(now.replace(tzinfo=UTC).timestamp()),
            "data": {"export": status_body(record, settings.report_timezone)}}
    conn.execute(sa.insert(analytics_export_events).values(
        id=event_id, export_id=record["id"], type=event_type, body=orjson.dumps(body).decode(), created_at=now))


def dispatch(engine: Engine, settings: Settings, send: Callable[[str], None], now: datetime | None = None) -> int:
    """Queue a delivery of each event that needs one (`_due`); the count queued. The mark is
    committed first; an event whose send fails is unmarked, for the next dispatch."""
    if not settings.export_webhook_url:
        return 0
    now = now or utc_now()
    with engine.begin() as conn:
        claimed = _claim_due(conn, settings, now)
    for sent, event_id in enumerate(claimed):
        try:
            send(event_id)
        except ServiceUnavailable as error:
            log.warning("webhook events not queued (%s); the next dispatch tries again", error.message)
            with engine.begin() as conn:
                conn.execute(sa.update(analytics_export_events)
                             .where(analytics_export_events.c.id.in_(claimed[sent:]))
                             .values(enqueued_at=None))
            return sent
    return len(claimed)


def _due(settings: Settings, now: datetime) -> sa.ColumnElement:
    """Undelivered, inside the delivery window, and never queued or quiet for longer than any
    backoff (its message lost with a Redis that kept nothing)."""
    e = analytics_export_events.c
    quiet_since = now - timedelta(milliseconds=settings.export_webhook_max_backoff_ms) - _timeout(settings) - LOST_MARGIN
    return sa.and_(
        e.delivered_at.is_(None), e.created_at > now - DELIVERY_WINDOW,
        sa.or_(e.enqueued_at.is_(None), sa.func.coalesce(e.last_attempt_at, e.enqueued_at) < quiet_since),
    )


def _claim_due(conn: Connection, settings: Settings, now: datetime) -> list[str]:
    e = analytics_export_events.c
    claimed = []
    for event_id in conn.execute(sa.select(e.id).where(_due(settings, now)).order_by(e.id)).scalars():
        # Conditional again: another dispatcher may have claimed it since the SELECT.
        if conn.execute(sa.update(analytics_export_events).where(e.id == event_id, _due(settings, now))
                        .values(enqueued_at=now)).rowcount == 1:
            claimed.append(event_id)
    return claimed


def _timeout(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.export_webhook_timeout_seconds)


def deliver(engine: Engine, settings: Settings, event_id: str) -> None:
    """One attempt at delivering the event: POST it signed, record the attempt. Returns when it is
    delivered (now or before), gone, past its window or being attempted by a duplicate message;
    raises WebhookNotDelivered for the caller to retry later."""
    if not settings.export_webhook_url:
        return
    now = utc_now()
    e = analytics_export_events.c
    with engine.begin() as conn:
        taken = conn.execute(
            sa.update(analytics_export_events)
            .where(e.id == event_id, e.delivered_at.is_(None), e.created_at > now - DELIVERY_WINDOW,
                   sa.or_(e.lease_until.is_(None), e.lease_until < now))
            .values(lease_until=now + _timeout(settings) + LEASE_MARGIN)
        ).rowcount == 1
        body = conn.execute(sa.select(e.body).where(e.id == event_id)).scalar() if taken else None
    if body is None:
        return
    status_code, error = post(settings, body)
    delivered = status_code is not None and 200 <= status_code < 300
    attempted_at = utc_now()
    with engine.begin() as conn:
        attempt = 1 + conn.execute(sa.select(sa.func.count()).where(
            analytics_export_webhook_attempts.c.event_id == event_id)).scalar_one()
        conn.execute(sa.insert(analytics_export_webhook_attempts).values(
            event_id=event_id, attempt=attempt, status_code=status_code, error=error,
            attempted_at=attempted_at, delivered=delivered))
        conn.execute(sa.update(analytics_export_events).where(e.id == event_id).values(
            last_attempt_at=attempted_at, lease_until=None, delivered_at=attempted_at if delivered else None))
    if not delivered:
        raise WebhookNotDelivered(f"event {event_id} attempt {attempt}: {error or status_code}")


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe's `Stripe-Signature`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx, not a place to POST the event again."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(settings: Settings, body: str) -> tuple[int | None, str | None]:
    """POST the event: (status code, None) when the receiver answered, (None, what went wrong)."""
    raw = body.encode()
    request = urllib.request.Request(settings.export_webhook_url, data=raw, method="POST", headers={
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(settings.webhook_secret, raw, int(time.time())),
    })
    try:
        with _OPENER.open(request, timeout=settings.export_webhook_timeout_seconds) as response:
            return response.status, None
    except urllib.error.HTTPError as error:  # an answer, not 2xx
        return error.code, None
    except TimeoutError:
        return None, "timeout"
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            return None, "timeout"
        return None, _error_text(reason)
    except OSError as error:  # the connection dropped mid-answer
        return None, _error_text(error)


def _error_text(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()[:MAX_ERROR_CHARS]
    return str(reason)[:MAX_ERROR_CHARS] or type(reason).__name__


def notifications(conn: Connection, settings: Settings, export_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Every delivery attempt of the exports' events, oldest first, by export id."""
    ids = list(export_ids)
    found: dict[str, list[dict]] = {export_id: [] for export_id in ids}
    if not ids:
        return found
    a, e = analytics_export_webhook_attempts.c, analytics_export_events.c
    rows = conn.execute(
        sa.select(e.export_id, e.type, a.attempt, a.status_code, a.error, a.attempted_at, a.delivered)
        .select_from(analytics_export_webhook_attempts.join(analytics_export_events, e.id == a.event_id))
        .where(e.export_id.in_(ids)).order_by(a.attempted_at, a.id))
    for row in rows:
        found[row.export_id].append({
            "event": row.type, "attempt": row.attempt, "status_code": row.status_code, "error": row.error,
            "attempted_at": iso_local(row.attempted_at, settings.report_timezone), "delivered": bool(row.delivered),
        })
    return found
