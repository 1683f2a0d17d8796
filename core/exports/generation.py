"""Generating an export file in the worker.

Rows come from a server-side cursor and go straight into the file in the export storage
(`core.exports.storage`: a local temporary file renamed to `<export id>.<type>[.gz]`, or an S3
multipart upload), which appears only when complete; only then is the row marked `ready`.
Every way out leaves either a complete file and a `ready` row, or no file and a `failed` row,
or (a transient database error, `is_transient`) no file and the row still `preparing` for the
worker's next attempt: the actor retries those (Dramatiq's `retry_when`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.config import Settings
from core.dates import utc_now
from core.errors import DomainError
from core.exports import state
from core.exports.datasets import DATASETS
from core.exports.formats import file_name, write_export
from core.exports.records import fail_export, max_rows
from core.exports.status import ExportStatus
from core.exports.storage import Storage, storage_of

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(hours=24)
STREAM_BATCH = 1000
# A cancel is looked for every so many rows, once this long has passed since the last look.
CANCEL_CHECK_ROWS = 1_000
CANCEL_CHECK_SECONDS = 1.0
TRANSIENT_FAILURE = "Database unavailable while generating the export; create it again later"


def is_transient(error: BaseException) -> bool:
    """A database error that another attempt may not meet: lost connection, deadlock, lock wait."""
    return isinstance(error, sa.exc.OperationalError)


def generate_export(engine: Engine, settings: Settings, export_id: str) -> None:
    """Write the file of a `preparing` export and mark it `ready`, or mark it `failed`.

    A redelivered or retried message finds the export still `preparing` and starts over (its
    progress from zero); one that finds it finished does nothing. A transient database error
    propagates, for the caller to retry.
    """
    with engine.begin() as conn:
        record = state.load(conn, export_id)
        if record is None or not state.start_attempt(conn, export_id, utc_now()):
            log.info("export %s: nothing to do (%s)", export_id, "deleted" if record is None else record["status"])
            return
    try:
        _write_and_publish(engine, settings, record)
    except ExportCanceled:
        log.info("export %s: canceled while it was written; no file left", export_id)
    except Exception as error:  # whatever it was, the admin gets a status, not a stuck export
        if is_transient(error):
            log.warning("export %s: transient database error (%s)", export_id, type(error).__name__)
            raise
        log.error("export %s failed", export_id, exc_info=error)
        with engine.begin() as conn:
            fail_export(conn, settings, export_id, readable_error(error))


def readable_error(error: Exception) -> str:
    """What the admin reads in `error_message`: the kind of failure, no traceback or SQL."""
    if isinstance(error, DomainError):
        return error.message
    if is_transient(error):
        return TRANSIENT_FAILURE
    if isinstance(error, sa.exc.DBAPIError):
        return f"Database error while generating the export ({type(error.orig).__name__})"
    if isinstance(error, OSError):
        return f"Could not write the export file: {error.strerror or type(error).__name__}"
    return f"Export failed ({type(error).__name__}); quote the export id when reporting it"


def _write_and_publish(engine: Engine, settings: Settings, record: dict) -> None:
    started = time.perf_counter()
    export_id, storage = record["id"], storage_of(settings)
    name = file_name(export_id, record["type"], record["compression"])
    storage.remove_partials(export_id)
    rows, size = _write_file(engine, settings, storage, record, name)
    now = utc_now()
    try:
        with engine.begin() as conn:
            published = state.publish(conn, settings, export_id, name, rows=rows, size=size, now=now,
                                      expires_at=now + LINK_LIFETIME)
            status = ExportStatus.READY if published else (state.load(conn, export_id) or {}).get("status")
    except BaseException:
        storage.delete(name)  # no file without a `ready` row; a retry writes it again
        raise
    if published:
        log.info("export %s ready: %d rows, %d bytes in %.2f s", export_id, rows, size, time.perf_counter() - started)
    elif status != ExportStatus.READY:
        # The janitor failed it meanwhile (or it was deleted): its file must not linger.
        storage.delete(name)


def _write_file(engine: Engine, settings: Settings, storage: Storage, record: dict, name: str) -> tuple[int, int]:
    """Stream the rows into the file `name` of the storage; return (rows, bytes)."""
    export_id = record["id"]
    dataset = DATASETS[record["dataset"]]
    columns = record["columns"] or list(dataset.columns)
    # However the data grew since the estimate, never more rows than the limit.
    query = dataset.select(record["filters"], columns, settings.report_timezone).limit(
        max_rows(settings, record["type"]))
    rows = _until_canceled(_stream(engine, query), engine, export_id)
    with storage.writing(export_id, name) as out:
        count = write_export(out, record["type"], record["compression"], record["excel"], dataset.layout(columns),
                             rows, settings.report_timezone, _progress_recorder(engine, export_id))
        size = out.tell()
    return count, size


def _stream(engine: Engine, query: sa.Select) -> Iterator[sa.Row]:
    # stream_results: PyMySQL's unbuffered SSCursor; yield_per: fetch that many rows at a time.
    with engine.connect() as conn:
        yield from conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)


class ExportCanceled(Exception):
    """The admin canceled the export while it was being written."""


def _until_canceled(rows: Iterator[sa.Row], engine: Engine, export_id: str) -> Iterator[sa.Row]:
    """The rows, stopping with ExportCanceled once the export is no longer `preparing`: looked up
    (on a connection of its own) at most every CANCEL_CHECK_SECONDS, so a cancel stops the
    worker within about that long while rows flow."""
    last_check = time.monotonic()
    for count, row in enumerate(rows, 1):
        if count % CANCEL_CHECK_ROWS == 0 and time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
            last_check = time.monotonic()
            with engine.connect() as conn:
                if not state.is_preparing(conn, export_id):
                    raise ExportCanceled(export_id)
        yield row


def _progress_recorder(engine: Engine, export_id: str) -> Callable[[int], None]:
    def record_progress(rows_written: int) -> None:
        # Its own connection: the streaming one is busy until its cursor is exhausted.
        with engine.begin() as conn:
            state.record_progress(conn, export_id, rows_written, utc_now())

    return record_progress
