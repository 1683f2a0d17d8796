"""Request ids, the request log and admin authentication."""

from __future__ import annotations

import logging
import re
import time

from ulid import ULID

from core import logs, metrics
from core.auth import verify_admin_token

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
        metrics.HTTP_REQUESTS.labels(route, req.method, str(status)).inc()
        metrics.HTTP_DURATION.labels(route, req.method).observe(duration_ms / 1000)
        logs.request_id.reset(tokens[0])
        logs.admin_id.reset(tokens[1])


class AdminAuthMiddleware:
    """Every route needs an admin token unless its resource says `public = True`."""

    def __init__(self, jwt_secret: str):
        self._secret = jwt_secret

    def process_resource(self, req, resp, resource, params):
        if resource is None or getattr(resource, "public", False):
            return
        req.context.principal = verify_admin_token(req.get_header("Authorization"), self._secret)
        logs.admin_id.set(req.context.principal.user_id)
