"""An export's status as the API and the webhook events show it: the spec's status body, plus
what a client needs while it waits and once it is done. The web layer adds what only it has
(the download link, notifications, downloads)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.dates import iso_local
from core.exports.status import ExportStatus


def status_body(record: dict, tz: ZoneInfo) -> dict:
    body = {
        "export_id": record["id"],
        "status": record["status"],
        "type": record["type"],
        "dataset": record["dataset"],
        "filters": record["filters"],
        "columns": record["columns"],
        "compression": record["compression"],
        "excel": record["excel"],
        "estimated_rows": record["estimated_rows"],
        "created_at": iso_local(record["created_at"], tz),
    }
    status = record["status"]
    if status == ExportStatus.PREPARING:
        body.update(rows_written=record["rows_written"], progress_percent=progress_percent(record))
    if status in (ExportStatus.READY, ExportStatus.EXPIRED):
        body.update(actual_rows=record["actual_rows"], expires_at=iso_local(record["expires_at"], tz))
    if status == ExportStatus.READY:
        body["file_size"] = record["file_size"]
    if status == ExportStatus.FAILED:
        body["error_message"] = record["error_message"]
    if status != ExportStatus.PREPARING:
        body["completed_at"] = iso_local(record["completed_at"], tz)
    return body


def progress_percent(record: dict) -> int:
    """How far a `preparing` export is, against its estimate: 0-99 (100 is `ready`)."""
    if not record["estimated_rows"]:
        return 0
    return min(99, 100 * record["rows_written"] // record["estimated_rows"])
