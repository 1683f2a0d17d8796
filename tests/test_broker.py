from dataclasses import replace

import pytest

from core.errors import ConfigError
from workers.broker import DEFAULT_IDLE_POLL_MS, build_broker


def test_an_idle_consumer_polls_redis_often_whatever_the_worker_timeout(settings, redis_url):
    # Dramatiq's Worker asks for consumers with its own timeout (1000 ms unless told otherwise).
    settings = replace(settings, redis_url=redis_url)
    default = build_broker(settings, environ={})
    tuned = build_broker(settings, environ={"WORKER_IDLE_POLL_MS": "40"})
    try:
        assert default.consume("exports", timeout=1000).timeout == DEFAULT_IDLE_POLL_MS == 100
        assert tuned.consume("exports", timeout=1000).timeout == 40
        assert tuned.consume("exports", timeout=20).timeout == 20  # a shorter wait is kept
    finally:
        default.close()
        tuned.close()


@pytest.mark.parametrize("raw", ["0", "-5", "fast", "1.5"])
def test_a_bad_idle_poll_is_named(settings, redis_url, raw):
    settings = replace(settings, redis_url=redis_url)
    with pytest.raises(ConfigError, match="WORKER_IDLE_POLL_MS"):
        build_broker(settings, environ={"WORKER_IDLE_POLL_MS": raw})
