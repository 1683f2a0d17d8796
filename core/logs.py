"""Logging set-up: every log record carries the id of the request (or job) it belongs to."""

from __future__ import annotations

import contextvars
import logging

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id.get()
    return record


def install_request_id() -> None:
    """Stamp every record, whatever handler (ours, gunicorn's, pytest's) formats it."""
    logging.setLogRecordFactory(_record_with_request_id)


def configure_logging(level: int = logging.INFO) -> None:
    install_request_id()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
