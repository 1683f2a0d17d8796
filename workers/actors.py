"""Dramatiq actors: thin wrappers around `core` functions.

The Dramatiq CLI imports this module (`dramatiq workers.actors`), so it sets up the broker and
reads the configuration from the environment at import time.
"""

from functools import partial

import dramatiq

from core.config import load_settings
from core.db import get_engine
from core.etl.cleanup import expire_ready_exports
from core.etl.job import run_etl
from workers import broker as broker_setup

# A failed ETL is recorded and picked up by the next night's run; an immediate retry would
# fail the same way. A full backfill may take a while: Dramatiq's default limit is 10 minutes.
ETL_TIME_LIMIT_MS = 6 * 3600 * 1000

settings = load_settings()
broker = broker_setup.setup(settings)


@dramatiq.actor(queue_name="etl", max_retries=0, time_limit=ETL_TIME_LIMIT_MS)
def nightly_etl() -> None:
    """The scheduled run: waits for a run in progress rather than skip the night."""
    engine = get_engine(settings.database_url)
    run_etl(engine, settings, cleanup=partial(expire_ready_exports, engine), trigger="scheduler", wait=True)
