"""Engines: one per database URL per process, configured for its dialect."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from core import dialect


@cache
def get_engine(url: URL) -> Engine:
    return _create(url)


@cache
def single_statement_engine(url: URL) -> Engine:
    """For reads of one statement each, which is its own snapshot (core.analytics.answers):
    autocommit, so nothing is rolled back when a connection closes (SQLAlchemy 2.0.43's
    skip_autocommit_rollback; PyMySQL would send a ROLLBACK) or goes back to the pool, and no ping
    before each use; a read that finds its connection dropped (the error's
    `connection_invalidated`) is for the caller to retry once. One round trip a read, not three
    (ping, statement, rollback), which is what a request that reads nothing else costs most."""
    return _create(url, isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True, pool_reset_on_return=None,
                   pool_pre_ping=False)


def _create(url: URL, **overrides) -> Engine:
    engine = sa.create_engine(url, **{**dialect.engine_options(url), **overrides})
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
