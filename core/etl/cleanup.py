"""Expiring exports whose download link has run out.

A stand-in for the exports' own cleanup, which is being built alongside (and also deletes the
files): the ETL takes its cleanup as a callable, so the exports' function replaces this one
where the CLI and the actor bind it.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from core.dates import utc_now
from core.tables import analytics_exports


def expire_ready_exports(engine: Engine) -> int:
    exports = analytics_exports.c
    with engine.begin() as conn:
        result = conn.execute(
            analytics_exports.update()
            .where(exports.status == "ready", exports.expires_at < utc_now())
            .values(status="expired")
        )
    return result.rowcount
