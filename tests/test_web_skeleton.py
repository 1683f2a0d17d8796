import logging

import falcon
import falcon.testing
from dramatiq.brokers.stub import StubBroker

from web.app import create_app
from workers.enqueue import export_enqueuer


def test_unknown_route_is_404_in_the_error_shape(client, admin_headers):
    response = client.simulate_get("/api/v1/nothing-here", headers=admin_headers)
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "No route for GET /api/v1/nothing-here"}}


def test_wrong_method_is_405_in_the_error_shape(client):
    response = client.simulate_delete("/healthz")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_exception_is_500_without_internals(settings, broker, admin_headers, caplog):
    class Boom:
        def on_get(self, req, resp):
            raise RuntimeError("secret database password in a message")

    app = create_app(settings, enqueue_export=export_enqueuer(broker))
    app.add_route("/boom", Boom())
    with caplog.at_level(logging.ERROR):
        response = falcon.testing.TestClient(app).simulate_get(
            "/boom", headers={**admin_headers, "X-Request-Id": "req-500-check"}
        )
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "secret" not in response.text
    record = next(r for r in caplog.records if r.exc_info)
    assert record.request_id == "req-500-check"


def test_the_request_id_is_echoed(client):
    response = client.simulate_get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"


def test_a_request_id_is_made_when_missing_or_unsafe(client):
    made = client.simulate_get("/healthz").headers["X-Request-Id"]
    assert len(made) == 26
    unsafe = client.simulate_get("/healthz", headers={"X-Request-Id": "bad id\r\nwith junk"}).headers["X-Request-Id"]
    assert unsafe != "bad id\r\nwith junk" and len(unsafe) == 26


def test_log_lines_of_a_request_carry_its_id(settings, broker, caplog):
    class Talk:
        public = True

        def on_get(self, req, resp):
            logging.getLogger("talk").info("hello")
            resp.media = {}

    app = create_app(settings, enqueue_export=export_enqueuer(broker))
    app.add_route("/talk", Talk())
    with caplog.at_level(logging.INFO):
        falcon.testing.TestClient(app).simulate_get("/talk", headers={"X-Request-Id": "rid-42"})
    assert [r.request_id for r in caplog.records if r.name == "talk"] == ["rid-42"]


def test_readyz_reports_both_services(client, settings):
    response = client.simulate_get("/readyz")
    assert response.status_code == 200
    redis_check = "ok" if settings.redis_url else "not configured (in-process broker)"
    assert response.json == {"status": "ready", "checks": {"database": "ok", "redis": redis_check}}


def test_readyz_is_503_when_redis_is_down(db, env):
    from core.config import load_settings

    settings = load_settings({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, needs_jwt_secret=True)
    response = falcon.testing.TestClient(create_app(settings)).simulate_get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"].startswith("unreachable")


def test_readyz_is_503_when_the_database_is_down(env):
    from core.config import load_settings

    settings = load_settings(
        {**env, "DATABASE_URL": "mysql+pymysql://nobody@127.0.0.1:1/none"}, needs_jwt_secret=True
    )
    app = create_app(settings, enqueue_export=export_enqueuer(StubBroker()))
    response = falcon.testing.TestClient(app).simulate_get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("unreachable")

