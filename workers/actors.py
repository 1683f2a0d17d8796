"""Dramatiq actors: thin wrappers around `core` functions.

The Dramatiq CLI imports this module (`dramatiq workers.actors`), so it sets up the broker and
reads the configuration from the environment at import time.
"""

import dramatiq

from core.config import load_settings
from workers import broker as broker_setup

settings = load_settings()
broker = broker_setup.setup(settings)
