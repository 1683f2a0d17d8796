"""Logging set-up, the same in every process (web, worker, scheduler, CLI): text for people or
JSON lines for a collector (LOG_FORMAT), at LOG_LEVEL. Every record carries the id of the
request (or job) it belongs to and, inside a request, the admin it is for.

Nothing here logs a token, a signature or a secret: the request log names the route template,
never the query string (a download link's signature is in it), nor any header.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime
from typing import TextIO

import orjson

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
admin_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("admin_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Fields a record may carry through `extra=` that JSON lines show as their own keys.
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id.get()
    record.admin_id = admin_id.get()
    return record


def install_request_id() -> None:
    """Stamp every record, whatever handler (ours, gunicorn's, pytest's) formats it."""
    logging.setLogRecordFactory(_record_with_context)


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "admin_id": getattr(record, "admin_id", None),
        }
        line.update({name: getattr(record, name) for name in REQUEST_FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(log_format: str = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Log to `stream` (standard error by default)."""
    install_request_id()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler's executor says "Running job" and "executed successfully" at INFO for every
    # fold-in tick (every 10 s), burying everything else; the fold-in logs what it does itself.
    # Its warnings (a missed run) and errors still show; LOG_LEVEL=DEBUG shows it all.
    quiet = root.level == logging.INFO
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING if quiet else logging.NOTSET)
