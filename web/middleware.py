"""Request ids, the request body limit and admin authentication."""

from __future__ import annotations

import io
import re

import falcon
from ulid import ULID

from core import logs
from core.auth import verify_admin_token

# Accept a caller's id only if it is short and printable, so it is safe in logs and headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestIdMiddleware:
    def process_request(self, req, resp):
        incoming = req.get_header("X-Request-Id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else str(ULID())
        req.context.request_id = request_id
        req.context.log_token = logs.request_id.set(request_id)
        resp.set_header("X-Request-Id", request_id)

    def process_response(self, req, resp, resource, req_succeeded):
        token = getattr(req.context, "log_token", None)
        if token is not None:
            logs.request_id.reset(token)


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
    """Every route needs an admin token unless its resource says `public = True`."""

    def __init__(self, jwt_secret: str):
        self._secret = jwt_secret

    def process_resource(self, req, resp, resource, params):
        if resource is None or getattr(resource, "public", False):
            return
        req.context.principal = verify_admin_token(req.get_header("Authorization"), self._secret)
