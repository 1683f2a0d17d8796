"""Request ids, the request log, the request body limit and admin authentication."""

from __future__ import annotations

import io
import logging
import re
import time

import falcon
from ulid import ULID

from core import logs, metrics
from core.auth import CurrentAdmins, verify_admin_token
from core.errors import Unauthorized

# Accept a caller's id only if it is short and printable, so it is safe in logs and headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


access_log = logging.getLogger("wallet_analytics.access")


class RequestIdMiddleware:
    """Gives each request its id (and its log lines with it), and logs one line per request:
    method, route template (never the query string: a download link's signature is in it),
    status and duration."""

    def process_request(self, req, resp):
        incoming = req.get_header("X-Request-Id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else str(ULID())
        req.context.request_id = request_id
        req.context.started = time.perf_counter()
        req.context.log_tokens = (logs.request_id.set(request_id), logs.admin_id.set(None))
        resp.set_header("X-Request-Id", request_id)

    def process_response(self, req, resp, resource, req_succeeded):
        tokens = getattr(req.context, "log_tokens", None)
        if tokens is None:
            return
        duration_ms = round((time.perf_counter() - req.context.started) * 1000, 1)
        route = req.uri_template or "(no route)"
        status = resp.status_code
        access_log.info("%s %s %s %.1f ms", req.method, route, status, duration_ms,
                        extra={"method": req.method, "route": route, "status": status, "duration_ms": duration_ms})
        metrics.request_answered(route, req.method, status, duration_ms / 1000)
        logs.request_id.reset(tokens[0])
        logs.admin_id.reset(tokens[1])


class RequestBodyLimitMiddleware:
    """A body over `max_bytes` is refused with 413 before the app reads it.

    A declared Content-Length is checked before a byte is read. A chunked body has none: it is
    read here up to one byte past the limit, then handed on as if it had come with its length
    (Falcon reads the body by Content-Length alone, so a chunked body would read as empty).
    """

    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes

    def process_request(self, req, resp):
        if req.content_length is not None:
            if req.content_length > self._max_bytes:
                self._refuse()
            return
        if "chunked" not in (req.get_header("Transfer-Encoding") or "").lower():
            return
        body = req.stream.read(self._max_bytes + 1)
        if len(body) > self._max_bytes:
            self._refuse()
        req.env["CONTENT_LENGTH"] = str(len(body))
        req.env["wsgi.input"] = req.stream = io.BytesIO(body)

    def _refuse(self):
        raise falcon.HTTPContentTooLarge(description=f"The request body exceeds {self._max_bytes} bytes")


class AdminAuthMiddleware:
    """Every route needs the bearer token of a current admin unless its resource says `public = True`."""

    def __init__(self, jwt_secret: str, admins: CurrentAdmins):
        self._secret = jwt_secret
        self._admins = admins

    def process_resource(self, req, resp, resource, params):
        if resource is None or getattr(resource, "public", False):
            return
        principal = verify_admin_token(bearer_token(req.get_header("Authorization")), self._secret)
        self._admins.require(principal.user_id)
        req.context.principal = principal
        logs.admin_id.set(principal.user_id)


def bearer_token(header_value: str | None) -> str:
    """The token of `Authorization: Bearer <token>`."""
    if not header_value:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()
