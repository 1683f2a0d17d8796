from dataclasses import replace

import pytest

from core.config import load_settings
from core.errors import ConfigError
from workers.broker import build_broker


def test_an_idle_consumer_polls_redis_often_whatever_the_worker_timeout(env, settings, redis_url):
    # Dramatiq's Worker asks for consumers with its own timeout (1000 ms unless told otherwise).
    default = build_broker(replace(settings, redis_url=redis_url))
    tuned = build_broker(load_settings({**env, "REDIS_URL": redis_url, "WORKER_IDLE_POLL_MS": "40"}))
    try:
        assert default.consume("exports", timeout=1000).timeout == settings.worker_idle_poll_ms == 100
        assert tuned.consume("exports", timeout=1000).timeout == 40
        assert tuned.consume("exports", timeout=20).timeout == 20  # a shorter wait is kept
    finally:
        default.close()
        tuned.close()


@pytest.mark.parametrize("name", ["WORKER_IDLE_POLL_MS", "WORKER_HEARTBEAT_TIMEOUT_MS", "WORKER_MAINTENANCE_INTERVAL_MS"])
@pytest.mark.parametrize("raw", ["0", "-5", "fast", "1.5"])
def test_a_bad_worker_setting_is_named(env, name, raw):
    with pytest.raises(ConfigError, match=f"^{name}:"):
        load_settings({**env, name: raw})


def test_a_dead_workers_messages_come_back_within_25_s_by_default(settings):
    """Heartbeat timeout plus one maintenance interval: the bound issue 12 asks 30 s of."""
    assert settings.worker_heartbeat_timeout_ms + settings.worker_maintenance_interval_ms <= 25_000
