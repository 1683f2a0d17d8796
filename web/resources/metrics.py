"""GET /metrics: Prometheus' text format, without a token, only to the addresses of METRICS_ALLOW
(loopback by default); anyone else gets the 404 of a route that does not exist."""

from __future__ import annotations

from ipaddress import ip_address

import redis
from sqlalchemy.engine import Engine

from core import metrics
from core.config import Settings
from core.dates import day_bounds, utc_now
from core.errors import NotFound
from core.etl.status import etl_status
from core.redis_client import redis_client
from workers.queues import queue_state

NOT_FOUND = "No route for this path"


class Metrics:
    public = True

    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp):
        if not self._allowed(req.remote_addr):
            raise NotFound(NOT_FOUND)
        resp.data, resp.content_type = metrics.scrape(self._read_state)

    def _allowed(self, address: str | None) -> bool:
        try:
            client = ip_address(address or "")
        except ValueError:
            return False
        return any(client in network for network in self._settings.metrics_allow)

    def _read_state(self):
        tz, now = self._settings.report_timezone, utc_now()
        status = etl_status(self._engine, tz, now)
        lag = None
        if status.materialized_through is not None:
            lag = max(0.0, (now - day_bounds(status.materialized_through, status.materialized_through, tz)[1])
                      .total_seconds())
        oldest = status.oldest_pending_change_at
        yield ("wallet_analytics_materialized_through_lag_seconds",
               "Seconds since the end of the last day of the unbroken materialized stretch", [],
               [([], lag)] if lag is not None else [])
        yield ("wallet_analytics_pending_changed_days", "Stored days made dirty by changes not folded in yet", [],
               [([], len(status.pending_days))])
        yield ("wallet_analytics_pending_changes", "Captured changes not folded in yet", [],
               [([], status.pending_changes)])
        yield ("wallet_analytics_oldest_pending_change_age_seconds", "Age of the oldest change not folded in yet",
               [], [([], (now - oldest).total_seconds() if oldest else 0.0)])
        if self._settings.redis_url:
            client = redis_client(self._settings.redis_url)
            try:
                queues = queue_state(client)
            except redis.RedisError:
                return  # /readyz says Redis is down; the process's own metrics still answer
            finally:
                client.close()
            yield ("wallet_analytics_queue_waiting_messages", "Messages waiting on a queue", ["queue"],
                   [([queue], count) for queue, count in queues.waiting.items()])
            yield ("wallet_analytics_queue_in_flight_messages", "Messages a worker has taken and not finished",
                   ["queue"], [([queue], count) for queue, count in queues.in_flight.items()])
            yield ("wallet_analytics_workers_alive", "Dramatiq worker processes with a heartbeat in the last minute",
                   [], [([], queues.workers_alive)])


