"""Generating an export file in the worker.

Rows come from a server-side cursor and go straight to a temporary file in EXPORT_DIR, which is
flushed, fsynced and atomically renamed to `<export id>.<type>`; only then is the row marked
`ready`. Every way out leaves either a complete file and a `ready` row, or no file and a
`failed` row, or (a transient database error, `is_transient`) no file and the row still
`preparing` for the worker's next attempt: the actor retries those (Dramatiq's `retry_when`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.config import Settings
from core.dates import utc_now
from core.errors import DomainError
from core.exports import state
from core.exports.datasets import DATASETS
from core.exports.records import MAX_ROWS, fail_export
from core.exports.status import ExportStatus
from core.exports.writers import write_csv, write_json

log = logging.getLogger(__name__)

# mkstemp's 0600 would keep the file from nginx, which sends it (X-Accel-Redirect) as a member of
# the service's group; nobody else may read it.
EXPORT_FILE_MODE = 0o640
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
    export_id, export_dir = record["id"], settings.export_dir
    export_dir.mkdir(parents=True, exist_ok=True)
    _remove_partial_files(export_dir, export_id)
    rows, size = _write_file(engine, settings, record)
    final_path = export_dir / state.file_name(export_id, record["type"])
    now = utc_now()
    try:
        with engine.begin() as conn:
            published = state.publish(conn, settings, export_id, record["type"], rows=rows, size=size, now=now,
                                      expires_at=now + LINK_LIFETIME)
            status = ExportStatus.READY if published else (state.load(conn, export_id) or {}).get("status")
    except BaseException:
        final_path.unlink(missing_ok=True)  # no file without a `ready` row; a retry writes it again
        raise
    if published:
        log.info("export %s ready: %d rows, %d bytes in %.2f s", export_id, rows, size, time.perf_counter() - started)
    elif status != ExportStatus.READY:
        # The janitor failed it meanwhile (or it was deleted): its file must not linger.
        final_path.unlink(missing_ok=True)


def _write_file(engine: Engine, settings: Settings, record: dict) -> tuple[int, int]:
    """Stream the rows into `<id>.<type>` atomically; return (rows, bytes)."""
    export_dir, export_id = settings.export_dir, record["id"]
    dataset = DATASETS[record["dataset"]]
    columns = record["columns"] or list(dataset.columns)
    query = dataset.select(record["filters"], columns, settings.report_timezone).limit(MAX_ROWS)
    layout = dataset.layout(columns)
    progress = _progress_recorder(engine, export_id)
    handle, temp_name = tempfile.mkstemp(dir=export_dir, prefix=f".{export_id}.", suffix=".tmp")
    try:
        with open(handle, "w", encoding="utf-8", newline="") as out:
            rows = _until_canceled(_stream(engine, query), engine, export_id)
            if record["type"] == "csv":
                count = write_csv(out, layout, rows, settings.report_timezone, progress)
            else:
                count = write_json(out, layout, rows, settings.report_timezone, progress)
            out.flush()
            os.fsync(out.fileno())
        size = os.path.getsize(temp_name)
        os.chmod(temp_name, EXPORT_FILE_MODE)
        os.replace(temp_name, export_dir / state.file_name(export_id, record["type"]))
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(export_dir)
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


def _remove_partial_files(export_dir: Path, export_id: str) -> None:
    """Temporary files of an earlier attempt of this export that died mid-write (e.g. SIGKILL)."""
    for leftover in export_dir.glob(f".{export_id}.*.tmp"):
        leftover.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable before the database says the file is there."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

