"""The Falcon app factory."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial

import falcon
import orjson

from core import analytics, logs
from core.analytics import params
from core.auth import CurrentAdmins
from core.config import Settings
from core.db import get_engine
from core.exports.datasets import TRANSACTIONS
from web import errors, openapi
from web.middleware import AdminAuthMiddleware, RequestBodyLimitMiddleware, RequestIdMiddleware
from web.resources import dashboard, drilldown, etl, exports, health, metrics
from web.resources.analytics import Question
from workers.enqueue import etl_run_enqueuer, export_enqueuer, sending_broker, webhook_enqueuer

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


def _on_first_use(make_sender: Callable[[], Callable]) -> Callable:
    """A sender made when it first sends: the broker (and, in the demo, the in-process actors
    it imports) only in a process that sends."""
    made = []

    def send(argument) -> None:
        if not made:
            made.append(make_sender())
        made[0](argument)

    return send


class _App(falcon.App):
    def add_route(self, uri_template: str, resource: object, **kwargs) -> None:
        # Every GET route answers HEAD too (curl -I, uptime checkers); Falcon drops the body.
        if hasattr(resource, "on_get") and not hasattr(resource, "on_head"):
            resource.on_head = resource.on_get
        super().add_route(uri_template, resource, **kwargs)


def create_app(settings: Settings, enqueue_export: Callable[[str], None] | None = None,
               enqueue_etl: Callable[[int], None] | None = None,
               enqueue_webhook: Callable[[str], None] | None = None) -> falcon.App:
    """The app; `enqueue_export`, `enqueue_etl` and `enqueue_webhook` replace the senders of the
    process's broker (tests bring their own)."""
    logs.install_request_id()
    engine = get_engine(settings.database_url)
    app = _App(middleware=[
        RequestIdMiddleware(),
        RequestBodyLimitMiddleware(settings.max_request_body_bytes),
        AdminAuthMiddleware(settings.jwt_secret, CurrentAdmins(engine)),
    ])
    app.req_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = _json_handler()
    errors.register(app)

    app.add_route("/healthz", health.Health())
    app.add_route("/readyz", health.Ready(engine, settings.redis_url))
    app.add_route("/metrics", metrics.Metrics(engine, settings))
    app.add_route(openapi.PATH, openapi.Document())
    for path, (answer, options) in ANALYTICS_ROUTES.items():
        app.add_route(f"{openapi.API}{path}", Question(engine, settings.report_timezone, answer, options))
    app.add_route(f"{openapi.API}/status", etl.EtlStatusResource(engine, settings))
    app.add_route(f"{openapi.API}/transactions", drilldown.DatasetRows(engine, settings.report_timezone, TRANSACTIONS))
    enqueue_export = enqueue_export or _on_first_use(lambda: export_enqueuer(sending_broker(settings)))
    enqueue_etl = enqueue_etl or _on_first_use(lambda: etl_run_enqueuer(sending_broker(settings)))
    enqueue_webhook = enqueue_webhook or _on_first_use(lambda: webhook_enqueuer(sending_broker(settings)))
    app.add_route(f"{openapi.API}/etl-runs", etl.EtlRuns(engine, settings, enqueue_etl))
    app.add_route(f"{openapi.API}/etl-runs/{{run_id}}", etl.EtlRun(engine, settings))
    app.add_route(f"{openapi.API}/exports", exports.Exports(engine, settings, enqueue_export, enqueue_webhook))
    app.add_route(f"{openapi.API}/exports/{{export_id}}", exports.Export(engine, settings, enqueue_webhook))
    app.add_route(f"{exports.DOWNLOAD_PATH}/{{file_name}}", exports.Download(engine, settings))
    app.add_route(f"{openapi.API}/meta", dashboard.ReportMeta(settings.report_timezone))
    app.add_route(f"{openapi.API}/campaigns", dashboard.Campaigns(engine, settings.report_timezone))

    # The admin dashboard. Its assets are public (they hold no data) and served only from
    # web/static: Falcon's static route refuses '..', backslashes and anything outside it.
    app.add_route("/admin", dashboard.AdminPageRedirect())
    app.add_route("/admin/", dashboard.AdminPage())
    app.add_static_route("/admin/", str(dashboard.STATIC_DIR))
    return app
