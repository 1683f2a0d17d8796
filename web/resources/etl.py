"""GET /api/v1/admin/analytics/status: how far the materialized data reaches, how the ETL ran."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine, RowMapping

from core.dates import iso_local, local_today
from core.etl.status import etl_status


def _day(value) -> str | None:
    return None if value is None else value.isoformat()


class EtlStatusResource:
    def __init__(self, engine: Engine, tz: ZoneInfo):
        self._engine = engine
        self._tz = tz

    def on_get(self, req, resp):
        status = etl_status(self._engine, self._tz, local_today(self._tz))
        resp.media = {
            "timezone": self._tz.key,
            "earliest_ledger_date": _day(status.earliest_ledger_day),
            "materialized_through": _day(status.materialized_through),
            "latest_materialized_date": _day(status.latest_materialized_day),
            "missing_dates": status.missing_days,
            "last_run": self._run(status.last_run),
            "last_success_at": None if status.last_success is None else iso_local(
                status.last_success["finished_at"], self._tz),
        }

    def _run(self, run: RowMapping | None) -> dict | None:
        if run is None:
            return None
        return {
            "id": run["id"], "trigger": run["trigger"], "status": run["status"],
            "started_at": iso_local(run["started_at"], self._tz),
            "finished_at": iso_local(run["finished_at"], self._tz),
            "first_date": _day(run["first_date"]), "last_date": _day(run["last_date"]),
            "dates_processed": run["dates_processed"], "error_message": run["error_message"],
        }
