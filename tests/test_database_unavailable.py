"""The database down, or a connection killed mid-request: 503 service_unavailable with Retry-After,
on every route that reads it; never a 500. A database error's text never reaches an admin."""

import threading
import time
from datetime import timedelta

import falcon.testing
import pytest
import sqlalchemy as sa

from core.config import load_settings
from core.dates import utc_now
from core.errors import describe_error, excerpt, is_database_unavailable
from core.exports.links import link as signed_link
from tests.bench.services import free_port
from tests.conftest import JWT_SECRET
from tests.exports_support import EXPORTS, create
from web import openapi
from web.app import create_app
from web.resources.exports import download_url

EXPORT_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
RANGE = "from=2025-11-01&to=2025-11-02"
WAIT_SECONDS = 30  # a safety net against a hung test


def _routes(settings) -> list[tuple[str, str, dict]]:
    """(method, path, keyword arguments of simulate_request) of every route that reads the database."""
    path, query = download_url(signed_link(settings, EXPORT_ID, "csv", "none", utc_now() + timedelta(hours=1))).split("?")
    return [
        *[("GET", f"{openapi.API}{route}", {"query_string": f"{RANGE}&{extra}".rstrip("&")})
          for route, extra in [("/tokens/overview", ""), ("/tokens/trend", "granularity=daily"),
                               ("/tokens/by-feature", ""), ("/tokens/composition", ""),
                               ("/users/top", "metric=spend"), ("/purchases", ""), ("/promotions", "")]],
        ("GET", f"{openapi.API}/status", {}),
        ("GET", f"{openapi.API}/campaigns", {}),
        ("GET", EXPORTS, {}),
        ("GET", f"{EXPORTS}/{EXPORT_ID}", {}),
        ("POST", EXPORTS, {"json": {"dataset": "users"}}),
        ("GET", path, {"query_string": query}),
    ]


def test_every_route_answers_503_when_the_database_is_unreachable(tmp_path, admin_headers):
    dead = f"mysql+pymysql://root@127.0.0.1:{free_port()}/wallet"  # nothing listens there
    settings = load_settings({"DATABASE_URL": dead, "JWT_SECRET": JWT_SECRET, "EXPORT_DIR": str(tmp_path)},
                             needs_jwt_secret=True)
    client = falcon.testing.TestClient(create_app(settings, enqueue_export=lambda export_id: None))
    for method, path, options in _routes(settings):
        response = client.simulate_request(method, path, headers=admin_headers, **options)
        assert response.status_code == 503, (method, path, response.text)
        assert response.json["error"]["code"] == "service_unavailable", (method, path)
        assert int(response.headers["Retry-After"]) > 0
        assert "127.0.0.1" not in response.text and "SELECT" not in response.text
    assert client.simulate_get("/readyz").status_code == 503


def test_a_connection_killed_mid_request_is_a_503_and_the_next_request_succeeds(db, client, admin_headers):
    if db.dialect.name == "sqlite":
        pytest.skip("KILL is MariaDB's")
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    answers = []
    with db.connect() as blocker:
        # The request's read of analytics_exports waits for this table lock; then we kill it.
        blocker.execute(sa.text("LOCK TABLES analytics_exports WRITE"))
        request = threading.Thread(target=lambda: answers.append(
            client.simulate_get(f"{EXPORTS}/{export_id}", headers=admin_headers)))
        request.start()
        victim = _wait_for_waiting_query(blocker, db.url.database)
        blocker.execute(sa.text(f"KILL {int(victim)}"))
        request.join(WAIT_SECONDS)
        blocker.execute(sa.text("UNLOCK TABLES"))
    assert answers, "the request did not finish"
    assert answers[0].status_code == 503, answers[0].text
    assert answers[0].json["error"]["code"] == "service_unavailable"
    assert answers[0].headers["Retry-After"]
    # The pool drops the dead connection: the next request gets a fresh one.
    assert client.simulate_get(f"{EXPORTS}/{export_id}", headers=admin_headers).status_code == 200


def _wait_for_waiting_query(conn, database: str) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = conn.execute(sa.text(
            "SELECT id FROM information_schema.PROCESSLIST WHERE db = :db AND id <> CONNECTION_ID() "
            "AND info LIKE '%analytics_exports%'"), {"db": database}).scalar()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the request never reached the database")


def test_idle_pooled_connections_killed_by_the_server_are_replaced_unseen(db, client, admin_headers):
    if db.dialect.name == "sqlite":
        pytest.skip("KILL is MariaDB's")
    url = f"{openapi.API}/tokens/overview"
    assert client.simulate_get(url, query_string=RANGE, headers=admin_headers).status_code == 200
    with sa.create_engine(db.url, poolclass=sa.pool.NullPool).connect() as killer:
        for (connection_id,) in killer.execute(sa.text(
                "SELECT id FROM information_schema.PROCESSLIST WHERE db = :db AND id <> CONNECTION_ID()"),
                {"db": db.url.database}).all():
            killer.execute(sa.text(f"KILL {int(connection_id)}"))
    assert client.simulate_get(url, query_string=RANGE, headers=admin_headers).status_code == 200


def test_a_database_error_is_described_without_its_sql_or_values(db):
    with pytest.raises(sa.exc.DBAPIError) as raised, db.connect() as conn:
        conn.execute(sa.text("SELECT secret_column FROM users WHERE email = :email"), {"email": "who@example.com"})
    described = describe_error(raised.value)
    assert described.startswith("database error (")
    assert "SELECT" not in described and "who@example.com" not in described and "secret" not in described
    assert not is_database_unavailable(raised.value)


def test_an_unreachable_database_is_described_as_unavailable():
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:{free_port()}/wallet")
    with pytest.raises(sa.exc.OperationalError) as raised:
        engine.connect()
    assert is_database_unavailable(raised.value)
    assert describe_error(raised.value) == "database unavailable (OperationalError 2003)"
    assert describe_error(RuntimeError("x" * 500)) == f"RuntimeError: {excerpt('x' * 500)}"
    assert len(excerpt("x" * 500)) < 130
