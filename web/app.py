"""The Falcon app factory."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial

import falcon
import orjson

from core import analytics, logs
from core.analytics import params
from core.config import Settings
from core.db import get_engine
from core.exports.links import DOWNLOAD_PATH
from web import errors, openapi
from web.middleware import AdminAuthMiddleware, RequestBodyLimitMiddleware, RequestIdMiddleware
from web.resources import dashboard, etl, exports, health
from web.resources.analytics import Question
from workers.enqueue import export_enqueuer

# path under openapi.API -> (analytics function, its options beyond from/to)
ANALYTICS_ROUTES = {
    "/tokens/overview": (analytics.token_overview, params.OVERVIEW),
    "/tokens/trend": (analytics.token_trend, params.TREND),
    "/tokens/by-feature": (analytics.tokens_by_feature, params.RANGE_ONLY),
    "/tokens/composition": (analytics.token_composition, params.RANGE_ONLY),
    "/users/top": (analytics.top_users, params.TOP_USERS),
    "/purchases": (analytics.purchase_analytics, params.RANGE_ONLY),
    "/promotions": (analytics.promotion_analytics, params.PROMOTIONS),
}


def _json_default(value):
    if isinstance(value, Decimal):
        # Money keeps its two decimals on the wire (1500.00, not 1500.0) and stays a JSON number.
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_handler() -> falcon.media.JSONHandler:
    return falcon.media.JSONHandler(
        dumps=partial(orjson.dumps, default=_json_default, option=orjson.OPT_NON_STR_KEYS),
        loads=orjson.loads,
    )


def create_app(settings: Settings, enqueue_export: Callable[[str], None] | None = None) -> falcon.App:
    """The app; `enqueue_export` replaces the Redis enqueuer (tests that need no worker)."""
    logs.install_request_id()
    engine = get_engine(settings.database_url)
    app = falcon.App(middleware=[
        RequestIdMiddleware(),
        RequestBodyLimitMiddleware(settings.max_request_body_bytes),
        AdminAuthMiddleware(settings.jwt_secret),
    ])
    app.req_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    errors.register(app)

    app.add_route("/healthz", health.Health())
    app.add_route("/readyz", health.Ready(engine, settings.redis_url))
    app.add_route(openapi.PATH, openapi.Document())
    for path, (answer, options) in ANALYTICS_ROUTES.items():
        app.add_route(f"{openapi.API}{path}", Question(engine, settings.report_timezone, answer, options))
    app.add_route(f"{openapi.API}/status", etl.EtlStatusResource(engine, settings.report_timezone))
    enqueue_export = enqueue_export or export_enqueuer(settings)
    app.add_route(f"{openapi.API}/exports", exports.Exports(engine, settings, enqueue_export))
    app.add_route(f"{openapi.API}/exports/{{export_id}}", exports.Export(engine, settings))
    app.add_route(f"{DOWNLOAD_PATH}/{{file_name}}", exports.Download(engine, settings))
    app.add_route(f"{openapi.API}/meta", dashboard.ReportMeta(settings.report_timezone))
    app.add_route(f"{openapi.API}/campaigns", dashboard.Campaigns(engine, settings.report_timezone))

    # The admin dashboard. Its assets are public (they hold no data) and served only from
    # web/static: Falcon's static route refuses '..', backslashes and anything outside it.
    app.add_route("/admin", dashboard.AdminPageRedirect())
    app.add_route("/admin/", dashboard.AdminPage())
    app.add_static_route("/admin/", str(dashboard.STATIC_DIR))
    return app
