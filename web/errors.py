"""The one place that maps errors to the spec's JSON shape: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
import socket

import falcon
import orjson
from gunicorn import util as gunicorn_util
from sqlalchemy.exc import SQLAlchemyError

from core.errors import (
    BusinessRuleViolation,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationError,
    describe_error,
    excerpt,
    is_database_unavailable,
)

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_DOWN_MESSAGE = "The database is unavailable; try again in a few seconds"

STATUS_OF = {
    ValidationError: falcon.HTTP_400,
    Unauthorized: falcon.HTTP_401,
    Forbidden: falcon.HTTP_403,
    NotFound: falcon.HTTP_404,
    Conflict: falcon.HTTP_409,
    BusinessRuleViolation: falcon.HTTP_422,
    RateLimited: falcon.HTTP_429,
    ServiceUnavailable: falcon.HTTP_503,
}

# Falcon's own errors (routing, media parsing) in our vocabulary.
CODE_OF_HTTP_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "service_unavailable",
    503: "service_unavailable",
    504: "service_unavailable",
}


def _render(resp: falcon.Response, status, code: str, message: str) -> None:
    resp.status = status
    resp.media = {"error": {"code": code, "message": message}}


def handle_domain_error(req, resp, error: DomainError, params) -> None:
    status = next(s for cls, s in STATUS_OF.items() if isinstance(error, cls))
    if isinstance(error, Unauthorized):
        resp.set_header("WWW-Authenticate", 'Bearer realm="wallet-analytics"')
    if isinstance(error, RateLimited):
        resp.set_header("Retry-After", str(error.retry_after_seconds))
    _render(resp, status, error.code, error.message)


def handle_http_error(req, resp, error: falcon.HTTPError, params) -> None:
    status_code = error.status_code
    code = CODE_OF_HTTP_STATUS.get(status_code, "http_error")
    message = error.description or error.title or "Request failed"
    if status_code == 404 and not error.description:
        message = f"No route for {req.method} {req.path}"
    if status_code == 405 and not error.description:
        message = f"Method {req.method} is not allowed on {req.path}"
    for name, value in (error.headers or {}).items():
        resp.set_header(name, value)
    _render(resp, error.status, code, message)


def handle_database_error(req, resp, error: SQLAlchemyError, params) -> None:
    """Database down or connection lost: 503 with Retry-After on every route; any other
    database error is a bug like any other."""
    if not is_database_unavailable(error):
        handle_unexpected(req, resp, error, params)
        return
    log.warning("database unavailable on %s %s: %s", req.method, req.path, describe_error(error))
    resp.set_header("Retry-After", str(DATABASE_RETRY_AFTER_SECONDS))
    _render(resp, falcon.HTTP_503, ServiceUnavailable.code, DATABASE_DOWN_MESSAGE)


def handle_unexpected(req, resp, error: Exception, params) -> None:
    log.exception("unhandled error on %s %s", req.method, req.path)
    _render(resp, falcon.HTTP_500, "internal_error", "Internal server error; quote the X-Request-Id when reporting it")


def write_gunicorn_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it cannot parse (a bad request line, headers over its limits),
    in our JSON shape instead of its HTML page; it replaces gunicorn.util.write_error."""
    body = orjson.dumps({"error": {"code": CODE_OF_HTTP_STATUS.get(status_int, "http_error"),
                                   "message": excerpt(f"{reason}: {mesg}" if mesg else reason)}})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)  # as gunicorn's own page


def install_gunicorn_error_pages() -> None:
    gunicorn_util.write_error = write_gunicorn_error


def register(app: falcon.App) -> None:
    # Falcon picks the most specific handler along the exception's MRO.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(SQLAlchemyError, handle_database_error)
    app.add_error_handler(DomainError, handle_domain_error)
