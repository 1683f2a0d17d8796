"""The Falcon app factory."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import falcon
import orjson

from core import logs
from core.config import Settings
from core.db import get_engine
from web import errors
from web.middleware import AdminAuthMiddleware, RequestIdMiddleware
from web.resources import analytics, dashboard, health

API = "/api/v1/admin/analytics"


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_handler() -> falcon.media.JSONHandler:
    return falcon.media.JSONHandler(
        dumps=partial(orjson.dumps, default=_json_default, option=orjson.OPT_NON_STR_KEYS),
        loads=orjson.loads,
    )


def create_app(settings: Settings) -> falcon.App:
    logs.install_request_id()
    engine = get_engine(settings.database_url)
    app = falcon.App(middleware=[RequestIdMiddleware(), AdminAuthMiddleware(settings.jwt_secret)])
    app.req_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    errors.register(app)

    app.add_route("/healthz", health.Health())
    app.add_route("/readyz", health.Ready(engine, settings.redis_url))
    app.add_route(f"{API}/tokens/overview", analytics.NotYetBuilt())
    app.add_route(f"{API}/meta", dashboard.ReportMeta(settings.report_timezone))
    app.add_route(f"{API}/campaigns", dashboard.Campaigns(engine, settings.report_timezone))

    # The admin dashboard. Its assets are public (they hold no data) and served only from
    # web/static: Falcon's static route refuses '..', backslashes and anything outside it.
    app.add_route("/admin", dashboard.AdminPageRedirect())
    app.add_route("/admin/", dashboard.AdminPage())
    app.add_static_route("/admin/", str(dashboard.STATIC_DIR))
    return app
