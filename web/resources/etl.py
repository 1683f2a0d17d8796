"""ETL routes (admin only): the status of the materialized data, and ETL runs asked for, listed
and read through the API."""

from __future__ import annotations

from collections.abc import Callable

import falcon
from sqlalchemy.engine import Engine

from core.analytics.params import check_parameter_names
from core.config import Settings
from core.dates import iso_local, utc_now
from core.errors import NotFound, ValidationError, excerpt
from core.etl import runs
from core.etl.lock import etl_lock
from core.etl.requests import parse_etl_request, queue_etl
from core.etl.status import etl_status
from core.numbers import is_ascii_digits

DEFAULT_PAGE, MAX_PAGE = 20, 100
RETRY_AFTER_SECONDS = 5


def _day(value) -> str | None:
    return None if value is None else value.isoformat()


def run_body(run: runs.EtlRun, settings: Settings) -> dict:
    tz = settings.report_timezone
    return {
        "id": run.id, "trigger": run.trigger, "status": run.status,
        "queued_at": iso_local(run.queued_at, tz), "started_at": iso_local(run.started_at, tz),
        "finished_at": iso_local(run.finished_at, tz),
        "first_date": _day(run.first_date), "last_date": _day(run.last_date),
        "dates_processed": run.dates_processed, "error_message": run.error_message,
    }


def _whole_number(raw: str | None, name: str, default: int | None, highest: int) -> int | None:
    if raw is None:
        return default
    if not is_ascii_digits(raw, 10) or not 1 <= int(raw) <= highest:
        raise ValidationError(f"{name} must be a whole number from 1 to {highest}, got {excerpt(repr(raw))}")
    return int(raw)


class EtlStatusResource:
    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp):
        tz, now = self._settings.report_timezone, utc_now()
        status = etl_status(self._engine, tz, now, etl_lock(self._settings, self._engine))
        oldest = status.oldest_pending_change_at
        resp.media = {
            "timezone": tz.key,
            "earliest_ledger_date": _day(status.earliest_ledger_day),
            "materialized_through": _day(status.materialized_through),
            "latest_materialized_date": _day(status.latest_materialized_day),
            "missing_dates": status.missing_days,
            "pending_changed_dates": [day.isoformat() for day in status.pending_days],
            "pending_changes": status.pending_changes,
            "oldest_pending_change_age_seconds": None if oldest is None else max(0, int((now - oldest).total_seconds())),
            "last_fold_in_at": None if status.last_fold_in is None else iso_local(status.last_fold_in.finished_at, tz),
            "last_run": None if status.last_run is None else run_body(status.last_run, self._settings),
            "last_success_at": None if status.last_success is None else iso_local(status.last_success.finished_at, tz),
        }


class EtlRuns:
    def __init__(self, engine: Engine, settings: Settings, send: Callable[[int], None]):
        self._engine, self._settings, self._send = engine, settings, send

    def on_post(self, req, resp):
        first, last = parse_etl_request(req.get_media(default_when_empty=None))
        run, _ = queue_etl(self._engine, self._settings.report_timezone, first, last, trigger="api",
                           now=utc_now(), send=self._send)
        resp.status = falcon.HTTP_202
        resp.location = f"{req.path}/{run.id}"
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
        resp.media = run_body(run, self._settings)

    def on_get(self, req, resp):
        check_parameter_names(req.params, ("limit", "cursor"))
        limit = _whole_number(req.get_param("limit"), "limit", DEFAULT_PAGE, MAX_PAGE)
        cursor = _whole_number(req.get_param("cursor"), "cursor", None, 2**32 - 1)
        with self._engine.connect() as conn:
            found = runs.list_runs(conn, limit + 1, before_id=cursor)
        resp.media = {
            "runs": [run_body(run, self._settings) for run in found[:limit]],
            "next_cursor": str(found[limit - 1].id) if len(found) > limit else None,
        }


class EtlRun:
    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp, run_id):
        number = _whole_number(run_id, "run id", None, 2**32 - 1)
        with self._engine.connect() as conn:
            run = runs.get_run(conn, number)
        if run is None:
            raise NotFound(f"No ETL run with id {excerpt(repr(run_id))}")
        if run.status in (runs.QUEUED, runs.RUNNING):
            resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
        resp.media = run_body(run, self._settings)
