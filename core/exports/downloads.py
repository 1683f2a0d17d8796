"""The download audit: the one owner of `analytics_export_downloads`, a row for every request
to a signed download link that passed the signature check (who owns the export, when, from
where, with what, how many bytes went out, the answer's status and the Range asked for).

It is independent of how the bytes go out: the app streaming them (bytes counted as they are
written), nginx sending them (the bytes nginx was told to send), or a redirect elsewhere
(`bytes_sent` None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.config import Settings
from core.dates import iso_local, utc_now
from core.tables import analytics_export_downloads, analytics_exports

USER_AGENT_CHARS = 255
RANGE_CHARS = 100
ADDRESS_CHARS = 45  # the longest text of an IPv6 address
LISTED_DOWNLOADS = 100


@dataclass(frozen=True)
class DownloadRequest:
    export_id: str
    client_address: str | None
    user_agent: str | None
    range: str | None  # the Range header as sent, if any


def record_download(engine: Engine, request: DownloadRequest, status: int, bytes_sent: int | None,
                    now: datetime | None = None) -> None:
    """One audit row, in a transaction of its own; nothing for an export that does not exist."""
    with engine.begin() as conn:
        owner = conn.execute(sa.select(analytics_exports.c.user_id)
                             .where(analytics_exports.c.id == request.export_id)).scalar()
        if owner is None:
            return
        conn.execute(sa.insert(analytics_export_downloads).values(
            export_id=request.export_id, user_id=owner, downloaded_at=now or utc_now(),
            client_address=_cut(request.client_address, ADDRESS_CHARS),
            user_agent=_cut(request.user_agent, USER_AGENT_CHARS), bytes_sent=bytes_sent, status=status,
            range=_cut(request.range, RANGE_CHARS),
        ))


def _cut(text: str | None, chars: int) -> str | None:
    return None if text is None else text[:chars]


def downloads_of(conn: Connection, settings: Settings, export_id: str) -> tuple[list[dict], int]:
    """The export's last LISTED_DOWNLOADS downloads, newest first, and how many there were in all."""
    d = analytics_export_downloads.c
    count = conn.execute(sa.select(sa.func.count()).where(d.export_id == export_id)).scalar_one()
    rows = conn.execute(sa.select(analytics_export_downloads).where(d.export_id == export_id)
                        .order_by(d.id.desc()).limit(LISTED_DOWNLOADS))
    return [{
        "downloaded_at": iso_local(row.downloaded_at, settings.report_timezone),
        "client_address": row.client_address,
        "user_agent": row.user_agent,
        "bytes_sent": row.bytes_sent,
        "status": row.status,
        "range": row.range,
    } for row in rows], count
