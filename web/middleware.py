"""Request ids and admin authentication."""

from __future__ import annotations

import re

from ulid import ULID

from core import logs
from core.auth import CurrentAdmins, verify_admin_token
from core.errors import Unauthorized

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


def bearer_token(header_value: str | None) -> str:
    """The token of `Authorization: Bearer <token>`."""
    if not header_value:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()
