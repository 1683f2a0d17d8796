"""Export routes: create, status, list (admin only) and the signed download (public)."""

from __future__ import annotations

from collections.abc import Callable

import falcon
from sqlalchemy.engine import Engine

from core.analytics.params import check_parameter_names
from core.config import Settings
from core.dates import iso_local
from core.errors import ServiceUnavailable
from core.exports import records
from core.exports.links import open_download
from core.exports.validation import parse_request

RETRY_AFTER_SECONDS = 2
LIST_PARAMETERS = ("limit", "cursor")
QUEUE_DOWN_MESSAGE = "Could not queue the export: the job queue was unreachable; create it again"


def export_body(record: dict, settings: Settings) -> dict:
    """The spec's status body, plus what a client needs while it waits and once it is done."""
    tz = settings.report_timezone
    body = {
        "export_id": record["id"],
        "status": record["status"],
        "type": record["type"],
        "dataset": record["dataset"],
        "filters": record["filters"],
        "columns": record["columns"],
        "estimated_rows": record["estimated_rows"],
        "created_at": iso_local(record["created_at"], tz),
    }
    status = record["status"]
    if status == "preparing":
        body["rows_written"] = record["rows_written"]
    if status in ("ready", "expired"):
        body.update(actual_rows=record["actual_rows"], download_url=record["download_url"],
                    expires_at=iso_local(record["expires_at"], tz))
    if status == "ready":
        body["file_size"] = record["file_size"]
    if status == "failed":
        body["error_message"] = record["error_message"]
    if status != "preparing":
        body["completed_at"] = iso_local(record["completed_at"], tz)
    return body


def _render(resp: falcon.Response, record: dict, settings: Settings) -> None:
    resp.media = export_body(record, settings)
    if record["status"] == "preparing":
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


class Exports:
    def __init__(self, engine: Engine, settings: Settings, enqueue: Callable[[str], None]):
        self._engine, self._settings, self._enqueue = engine, settings, enqueue

    def on_post(self, req, resp):
        request = parse_request(req.get_media(default_when_empty=None))
        user_id = req.context.principal.user_id
        record = records.create_export(self._engine, self._settings, user_id, request)
        try:
            self._enqueue(record["id"])
        except ServiceUnavailable:
            records.fail_export(self._engine, record["id"], QUEUE_DOWN_MESSAGE)
            raise
        resp.status = falcon.HTTP_201
        resp.location = f"{req.path}/{record['id']}"
        _render(resp, record, self._settings)

    def on_get(self, req, resp):
        check_parameter_names(req.params, LIST_PARAMETERS)
        found, next_cursor = records.list_exports(
            self._engine, req.context.principal.user_id,
            limit=req.get_param("limit"), cursor=req.get_param("cursor"),
        )
        resp.media = {
            "exports": [export_body(record, self._settings) for record in found],
            "next_cursor": next_cursor,
        }


class Export:
    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp, export_id):
        record = records.get_export(self._engine, self._settings, req.context.principal.user_id, export_id)
        _render(resp, record, self._settings)


class Download:
    """A signed link is its own credential (the spec's `curl -O` sends no token).

    Behind nginx (EXPORT_ACCEL_PREFIX set) the app only checks the link and names the file: nginx
    sends it from its internal location, so a client reading slowly holds an nginx connection,
    not an app thread. Without it the app streams the file itself.
    """

    public = True

    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp, file_name):
        download = open_download(
            self._engine, self._settings, file_name, req.get_param("expires"), req.get_param("signature")
        )
        resp.content_type = download.content_type
        resp.downloadable_as = download.attachment_name
        resp.set_header("Cache-Control", "private, no-store")
        if self._settings.export_accel_prefix:
            download.stream.close()
            resp.set_header("X-Accel-Redirect", f"{self._settings.export_accel_prefix}{download.file_name}")
            return
        resp.set_stream(download.stream, download.size)
