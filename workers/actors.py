"""Dramatiq actors: thin wrappers around `core` functions.

The Dramatiq CLI imports this module (`dramatiq workers.actors`), so it sets up the broker and
reads the configuration from the environment at import time.
"""

from core.config import load_settings
from core.logs import configure_logging
from workers import broker as broker_setup
from workers.jobs import declare_actors

settings = load_settings(needs_download_secret=True)
# Dramatiq's worker processes set up their own logging before they import this module.
configure_logging(settings.log_format, settings.log_level)
broker = broker_setup.setup(settings)
actors = declare_actors(broker, settings)
