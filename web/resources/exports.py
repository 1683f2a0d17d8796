"""Export routes: create, status, list (admin only) and the signed download (public)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import urlencode

import falcon
from sqlalchemy.engine import Engine

from core import metrics
from core.analytics.params import check_parameter_names
from core.config import Settings
from core.dates import iso_local
from core.errors import NotFound, ServiceUnavailable, ValidationError, excerpt
from core.exports import records
from core.exports.formats import GZIP, NO_COMPRESSION, content_type
from core.exports.links import NOT_FOUND, Link, check_download, link_of
from core.exports.links import Download as DownloadTarget
from core.exports.maintenance import delete_expired_files
from core.exports.status import ExportStatus
from core.exports.storage import LocalStorage, S3Storage, storage_of
from core.exports.validation import parse_request
from core.tables import EXPORT_TYPES

RETRY_AFTER_SECONDS = 2
IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
LIST_PARAMETERS = ("limit", "cursor")
QUEUE_DOWN_MESSAGE = "Could not queue the export: the job queue was unreachable; create it again"
DOWNLOAD_PATH = "/exports"
_FILE_NAME = re.compile(rf"([0-9A-HJKMNP-TV-Z]{{26}})\.({'|'.join(EXPORT_TYPES)})(\.gz)?")


def download_url(link: Link) -> str:
    """`/exports/<export id>.<type>[.gz]?expires=<unix seconds>&signature=<hex>`"""
    query = urlencode({"expires": link.expires, "signature": link.signature})
    return f"{DOWNLOAD_PATH}/{link.file_name}?{query}"


def parse_file_name(file_name: str) -> tuple[str, str, str]:
    """(export id, type, compression) of a download's file name; NotFound for any other name."""
    match = _FILE_NAME.fullmatch(file_name)
    if match is None:
        raise NotFound(NOT_FOUND)
    export_id, export_type, gz = match.groups()
    return export_id, export_type, GZIP if gz else NO_COMPRESSION


def progress_percent(record: dict) -> int:
    """How far a `preparing` export is, against its estimate: 0-99 (100 is `ready`)."""
    if not record["estimated_rows"]:
        return 0
    return min(99, 100 * record["rows_written"] // record["estimated_rows"])


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
        "compression": record["compression"],
        "excel": record["excel"],
        "estimated_rows": record["estimated_rows"],
        "created_at": iso_local(record["created_at"], tz),
    }
    status = record["status"]
    if status == ExportStatus.PREPARING:
        body["rows_written"] = record["rows_written"]
        body["progress_percent"] = progress_percent(record)
    if status in (ExportStatus.READY, ExportStatus.EXPIRED):
        link = link_of(settings, record)
        body.update(actual_rows=record["actual_rows"], download_url=link and download_url(link),
                    expires_at=iso_local(record["expires_at"], tz))
    if status == ExportStatus.READY:
        body["file_size"] = record["file_size"]
    if status == ExportStatus.FAILED:
        body["error_message"] = record["error_message"]
    if status != ExportStatus.PREPARING:
        body["completed_at"] = iso_local(record["completed_at"], tz)
    return body


def _render(resp: falcon.Response, record: dict, settings: Settings) -> None:
    resp.media = export_body(record, settings)
    if record["status"] == ExportStatus.PREPARING:
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def _idempotency_key(raw: str | None) -> str | None:
    if raw is not None and not _IDEMPOTENCY_KEY.fullmatch(raw):
        raise ValidationError(f"{IDEMPOTENCY_KEY} must be 1 to 255 printable ASCII characters, got {excerpt(repr(raw))}")
    return raw


class Exports:
    def __init__(self, engine: Engine, settings: Settings, enqueue: Callable[[str], None]):
        self._engine, self._settings, self._enqueue = engine, settings, enqueue

    def on_post(self, req, resp):
        request = parse_request(req.get_media(default_when_empty=None))
        key = _idempotency_key(req.get_header(IDEMPOTENCY_KEY))
        user_id = req.context.principal.user_id
        with self._engine.begin() as conn:  # committed before the worker can look for it
            record, created = records.create_export(conn, self._settings, user_id, request, key)
        resp.location = f"{req.path}/{record['id']}"
        if not created:  # the export this request already made, or an equal one: no new job
            _render(resp, record, self._settings)
            return
        try:
            self._enqueue(record["id"])
        except ServiceUnavailable:
            with self._engine.begin() as conn:
                records.fail_export(conn, record["id"], QUEUE_DOWN_MESSAGE)
            raise
        metrics.export_created(record["dataset"], record["type"])
        resp.status = falcon.HTTP_201
        _render(resp, record, self._settings)

    def on_get(self, req, resp):
        check_parameter_names(req.params, LIST_PARAMETERS)
        with self._engine.begin() as conn:
            found, next_cursor = records.list_exports(
                conn, self._settings, req.context.principal.user_id,
                limit=req.get_param("limit"), cursor=req.get_param("cursor"),
            )
        resp.media = {
            "exports": [export_body(record, self._settings) for record in found],
            "next_cursor": next_cursor,
        }


class Export:
    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_delete(self, req, resp, export_id):
        """Cancel: a `preparing` export becomes `canceled`, a `ready` one `expired` and its file
        goes; 200 with the status body, whatever it was (a second cancel changes nothing)."""
        with self._engine.begin() as conn:
            record = records.cancel_export(conn, self._settings, req.context.principal.user_id, export_id)
        delete_expired_files(self._engine, self._settings)
        _render(resp, record, self._settings)

    def on_get(self, req, resp, export_id):
        with self._engine.begin() as conn:
            record = records.get_export(conn, self._settings, req.context.principal.user_id, export_id)
        _render(resp, record, self._settings)


class Download:
    """A signed link is its own credential (the spec's `curl -O` sends no token).

    With S3 storage the app checks the link and answers 303 with a presigned URL of the object
    that lives a few minutes (docs/decisions.md), so the file never passes through the app.
    Behind nginx (EXPORT_ACCEL_PREFIX set) the app only checks the link and names the file: nginx
    sends it from its internal location, so a client reading slowly holds an nginx connection,
    not an app thread. Otherwise the app streams the file itself.
    """

    public = True

    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp, file_name):
        export_id, export_type, compression = parse_file_name(file_name)
        with self._engine.connect() as conn:
            download = check_download(conn, self._settings, export_id, export_type, compression,
                                      req.get_param("expires"), req.get_param("signature"))
        resp.set_header("Cache-Control", "private, no-store")
        storage = storage_of(self._settings)
        if isinstance(storage, S3Storage):
            _redirect_to_object(resp, storage, download)
        else:
            _send_local_file(resp, storage, download, self._settings.export_accel_prefix)


def _redirect_to_object(resp: falcon.Response, storage: S3Storage, download: DownloadTarget) -> None:
    resp.status = falcon.HTTP_303
    resp.location = storage.presigned_url(download.file_name, download.attachment_name,
                                          content_type(download.export_type, download.compression))


def _send_local_file(resp: falcon.Response, storage: LocalStorage, download: DownloadTarget,
                     accel_prefix: str | None) -> None:
    path = storage.path(download.file_name)
    if path is None:
        raise NotFound(NOT_FOUND)
    resp.content_type = content_type(download.export_type, download.compression)
    resp.downloadable_as = download.attachment_name
    if accel_prefix:
        resp.set_header("X-Accel-Redirect", f"{accel_prefix}{download.file_name}")
        return
    stream = open(path, "rb")  # falcon closes it when sent
    resp.set_stream(stream, os.fstat(stream.fileno()).st_size)
