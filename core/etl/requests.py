"""ETL runs asked for through the API (or `etl --enqueue`): checked by the CLI's rules, recorded
`queued`, and handed to a worker; a request while a run still waits joins that run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from core.dates import local_today, parse_date
from core.errors import ServiceUnavailable, ValidationError, excerpt
from core.etl import runs
from core.etl.plan import requested_dates

FIELDS = ("date", "from", "to")
QUEUE_DOWN = "could not be queued: the job queue was unreachable"


def parse_etl_request(body: object) -> tuple[date, date]:
    """{"date": D} or {"from": D, "to": D}: the first and last day asked for."""
    if not isinstance(body, Mapping):
        raise ValidationError('the body must be a JSON object: {"date": "YYYY-MM-DD"} or {"from": ..., "to": ...}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValidationError(f"unknown field {excerpt(repr(unknown[0]))}; give date, or from and to")
    if "date" in body:
        if "from" in body or "to" in body:
            raise ValidationError("date names one day; for a range give from and to instead")
        day = parse_date(body["date"], "date")
        return day, day
    if "from" not in body or "to" not in body:
        raise ValidationError("from and to go together: give both, or date for one day")
    return parse_date(body["from"], "from"), parse_date(body["to"], "to")


def queue_etl(engine: Engine, tz: ZoneInfo, first: date, last: date, *, trigger: str, now: datetime,
              send: Callable[[int], None]) -> tuple[runs.EtlRun, bool]:
    """The queued run that will materialize first..last, and whether it was newly queued
    (`send` hands a new run's id to a worker; a joined run is on its way already)."""
    requested_dates(first, last, local_today(tz, now), tz)
    run_id, joined = runs.queue_run(engine, trigger, first, last, now)
    if not joined:
        try:
            send(run_id)
        except ServiceUnavailable:
            runs.finish_run(engine, run_id, runs.FAILED, 0, now, QUEUE_DOWN)
            raise
    with engine.connect() as conn:
        return runs.get_run(conn, run_id), not joined
