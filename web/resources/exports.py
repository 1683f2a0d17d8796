"""Export routes: create, status, list (admin only) and the signed download (public)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import partial
from typing import BinaryIO
from urllib.parse import urlencode

import falcon
from sqlalchemy.engine import Engine

from core import metrics
from core.analytics.params import check_parameter_names
from core.config import Settings
from core.errors import NotFound, ServiceUnavailable, ValidationError, excerpt
from core.exports import records, webhooks
from core.exports.body import status_body
from core.exports.downloads import DownloadRequest, downloads_of, record_download
from core.exports.formats import GZIP, NO_COMPRESSION, content_type
from core.exports.links import NOT_FOUND, Link, check_download, check_link, link_of
from core.exports.links import Download as DownloadTarget
from core.exports.maintenance import delete_expired_files
from core.exports.status import ExportStatus
from core.exports.storage import LocalStorage, S3Storage, storage_of
from core.exports.validation import parse_request
from core.tables import EXPORT_TYPES
from web.downloads import CountedBody, Span, client_address, entity_tag, http_date, requested_span

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


def export_body(record: dict, settings: Settings, notifications: list[dict]) -> dict:
    """The status body (`core.exports.body`), its download link once `ready` (null once
    expired), and the attempts at notifying its webhook events."""
    body = status_body(record, settings.report_timezone)
    if record["status"] in (ExportStatus.READY, ExportStatus.EXPIRED):
        link = link_of(settings, record)
        body["download_url"] = link and download_url(link)
    body["notifications"] = notifications
    return body


def _render(resp: falcon.Response, body: dict, status: str) -> None:
    resp.media = body
    if status == ExportStatus.PREPARING:
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def _events_sender(engine: Engine, settings: Settings, enqueue_webhook: Callable[[str], None]) -> Callable[[], None]:
    """Queues the webhook events a request's transaction may have written (a cancel; an expiry
    or stuck export found while reading); the janitor queues whatever this could not."""
    return partial(webhooks.dispatch, engine, settings, enqueue_webhook)


def _idempotency_key(raw: str | None) -> str | None:
    if raw is not None and not _IDEMPOTENCY_KEY.fullmatch(raw):
        raise ValidationError(f"{IDEMPOTENCY_KEY} must be 1 to 255 printable ASCII characters, got {excerpt(repr(raw))}")
    return raw


class Exports:
    def __init__(self, engine: Engine, settings: Settings, enqueue: Callable[[str], None],
                 enqueue_webhook: Callable[[str], None]):
        self._engine, self._settings, self._enqueue = engine, settings, enqueue
        self._send_events = _events_sender(engine, settings, enqueue_webhook)

    def _render_one(self, resp: falcon.Response, record: dict) -> None:
        with self._engine.connect() as conn:
            sent = webhooks.notifications(conn, self._settings, [record["id"]])[record["id"]]
        _render(resp, export_body(record, self._settings, sent), record["status"])

    def on_post(self, req, resp):
        request = parse_request(req.get_media(default_when_empty=None))
        key = _idempotency_key(req.get_header(IDEMPOTENCY_KEY))
        user_id = req.context.principal.user_id
        with self._engine.begin() as conn:  # committed before the worker can look for it
            record, created = records.create_export(conn, self._settings, user_id, request, key)
        self._send_events()
        resp.location = f"{req.path}/{record['id']}"
        if not created:  # the export this request already made, or an equal one: no new job
            self._render_one(resp, record)
            return
        try:
            self._enqueue(record["id"])
        except ServiceUnavailable:
            with self._engine.begin() as conn:
                records.fail_export(conn, self._settings, record["id"], QUEUE_DOWN_MESSAGE)
            raise
        metrics.export_created(record["dataset"], record["type"])
        resp.status = falcon.HTTP_201
        self._render_one(resp, record)

    def on_get(self, req, resp):
        check_parameter_names(req.params, LIST_PARAMETERS)
        with self._engine.begin() as conn:
            found, next_cursor = records.list_exports(
                conn, self._settings, req.context.principal.user_id,
                limit=req.get_param("limit"), cursor=req.get_param("cursor"),
            )
        self._send_events()
        with self._engine.connect() as conn:
            sent = webhooks.notifications(conn, self._settings, [record["id"] for record in found])
        resp.media = {
            "exports": [export_body(record, self._settings, sent[record["id"]]) for record in found],
            "next_cursor": next_cursor,
        }


class Export:
    def __init__(self, engine: Engine, settings: Settings, enqueue_webhook: Callable[[str], None]):
        self._engine, self._settings = engine, settings
        self._send_events = _events_sender(engine, settings, enqueue_webhook)

    def on_delete(self, req, resp, export_id):
        """Cancel: a `preparing` export becomes `canceled`, a `ready` one `expired` and its file
        goes; 200 with the status body, whatever it was (a second cancel changes nothing)."""
        with self._engine.begin() as conn:
            record = records.cancel_export(conn, self._settings, req.context.principal.user_id, export_id)
        self._send_events()
        delete_expired_files(self._engine, self._settings)
        self._render(resp, record)

    def on_get(self, req, resp, export_id):
        with self._engine.begin() as conn:
            record = records.get_export(conn, self._settings, req.context.principal.user_id, export_id)
        self._send_events()
        self._render(resp, record)

    def _render(self, resp: falcon.Response, record: dict) -> None:
        """The status body with its notifications, its last downloads and their count."""
        with self._engine.connect() as conn:
            sent = webhooks.notifications(conn, self._settings, [record["id"]])[record["id"]]
            downloads, count = downloads_of(conn, self._settings, record["id"])
        body = export_body(record, self._settings, sent)
        body.update(downloads=downloads, download_count=count)
        _render(resp, body, record["status"])


class Download:
    """A signed link is its own credential (the spec's `curl -O` sends no token).

    With S3 storage the app checks the link and answers 303 with a presigned URL of the object
    that lives a few minutes (docs/decisions.md), so the file never passes through the app.
    Behind nginx (EXPORT_ACCEL_PREFIX set) the app only checks the link and names the file: nginx
    sends it from its internal location (and answers a Range itself), so a client reading slowly
    holds an nginx connection, not an app thread. Without it the app streams the file itself. HEAD
    is answered by the app either way. Every request whose signature checks out is audited
    (`core.exports.downloads`) with what it sends.
    """

    public = True

    def __init__(self, engine: Engine, settings: Settings):
        self._engine, self._settings = engine, settings

    def on_get(self, req, resp, file_name):
        self._answer(req, resp, file_name, head=False)

    def on_head(self, req, resp, file_name):
        """The headers of the GET, no body (curl -I); audited with 0 bytes."""
        self._answer(req, resp, file_name, head=True)

    def _answer(self, req, resp, file_name: str, *, head: bool) -> None:
        export_id, export_type, compression = parse_file_name(file_name)
        expires = check_link(self._settings, export_id, req.get_param("expires"), req.get_param("signature"))
        audit = partial(record_download, self._engine, DownloadRequest(
            export_id, client_address(req, self._settings.trusted_proxies), req.user_agent, req.get_header("Range")))
        storage = storage_of(self._settings)
        try:
            with self._engine.connect() as conn:
                target = check_download(conn, self._settings, export_id, export_type, compression, expires)
            resp.set_header("Cache-Control", "private, no-store")
            if isinstance(storage, S3Storage):
                _redirect_to_object(resp, storage, target)
                audit(303, None)  # the bytes go from S3, unseen by the app
                return
            stream, size = _open_local(storage, target)
        except NotFound:
            audit(404, 0)
            raise
        try:
            span = _describe(req, resp, export_id, target, size)
        except falcon.HTTPRangeNotSatisfiable:
            stream.close()
            audit(416, 0)
            raise
        self._send(resp, target, stream, size, span, audit, head=head)

    def _send(self, resp, target: DownloadTarget, stream: BinaryIO, size: int, span: Span | None,
              audit: Callable[[int, int | None], None], *, head: bool) -> None:
        """Hand the bytes over, and audit what goes: nothing for HEAD; behind nginx, what nginx is
        told to send (the file, or the range it answers itself); else the app's counted stream."""
        start, length = (span.start, span.length) if span else (0, size)
        status = 206 if span else 200
        if head or self._settings.export_accel_prefix:
            stream.close()
            audit(status, 0 if head else length)
            if not head:
                resp.set_header("X-Accel-Redirect", f"{self._settings.export_accel_prefix}{target.file_name}")
            return
        resp.set_stream(CountedBody(stream, start, length, lambda sent: audit(status, sent)), length)


def _redirect_to_object(resp: falcon.Response, storage: S3Storage, target: DownloadTarget) -> None:
    resp.status = falcon.HTTP_303
    resp.location = storage.presigned_url(target.file_name, target.attachment_name,
                                          content_type(target.export_type, target.compression))


def _open_local(storage: LocalStorage, target: DownloadTarget) -> tuple[BinaryIO, int]:
    """The file opened for reading (the body closes it when sent), and its size."""
    path = storage.path(target.file_name)
    if path is None:
        raise NotFound(NOT_FOUND)
    try:
        stream = open(path, "rb")
    except FileNotFoundError:  # deleted between the check and now (an expiry, a cancel)
        raise NotFound(NOT_FOUND) from None
    return stream, os.fstat(stream.fileno()).st_size


def _describe(req, resp, export_id: str, target: DownloadTarget, size: int) -> Span | None:
    """The headers of a download, and the byte range it answers (None: the whole file; raises
    HTTPRangeNotSatisfiable for a range past the end)."""
    etag, modified = entity_tag(export_id, size), http_date(target.modified)
    # First: a 416 is an error in the API's JSON shape, without the file's headers.
    span = requested_span(req.get_header("Range"), req.get_header("If-Range"), (etag, modified), size)
    resp.content_type = content_type(target.export_type, target.compression)
    resp.downloadable_as = target.attachment_name
    resp.set_header("Accept-Ranges", "bytes")
    resp.set_header("ETag", etag)
    resp.set_header("Last-Modified", modified)
    if span is not None:
        resp.status = falcon.HTTP_206
        resp.set_header("Content-Range", span.content_range)
    resp.content_length = span.length if span else size
    return span
