"""Engines: one per database URL per process, configured for its dialect."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from core import dialect


@cache
def get_engine(url: URL) -> Engine:
    engine = sa.create_engine(url, **dialect.engine_options(url))
    if url.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", dialect.on_sqlite_connect)
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return engine


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def bulk_load_engine(engine: Engine) -> Engine:
    """An engine whose MySQL connections may send LOAD DATA LOCAL INFILE (demo data only)."""
    if engine.dialect.name == "sqlite":
        return engine
    return get_engine(engine.url.update_query_dict({"local_infile": "1"}))
