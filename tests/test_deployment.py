"""The shipped web deployment, for real: nginx (Debian's) with deploy/nginx-api.conf in front of
gunicorn with deploy/gunicorn.conf.py, on loopback. nginx accepts the config; downloads go out
through X-Accel-Redirect; every error either of them produces is JSON in the API's shape; chunked
bodies are read. The slow-client figures are the soak's (tests/soak, `make soak`)."""

from __future__ import annotations

import http.client
import json
import runpy
import socket

import orjson
import pytest

from core.exports.generation import generate_export
from tests import factories as f
from tests.bench.services import LOOPBACK, PROJECT_ROOT
from tests.conftest import IN_CI, make_token
from tests.exports_support import EXPORTS
from tests.stack import (
    ACCEL_PREFIX,
    Gunicorn,
    Nginx,
    check_nginx_conf,
    nginx_binary,
    write_nginx_conf,
    write_site_check_conf,
)

TIMEOUT_SECONDS = 30  # a safety net against a hung test


@pytest.fixture(scope="module")
def nginx_bin():
    binary = nginx_binary()
    if binary is None:
        message = "nginx is not installed: apt-get install nginx (.ci/run does under CI=true)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return binary


@pytest.fixture
def stack(env, db, tmp_path, nginx_bin):
    """(gunicorn port, nginx port, settings-like env) with downloads handed to nginx."""
    f.add_user(db, 1, role="admin")
    app_env = {**env, "EXPORT_ACCEL_PREFIX": ACCEL_PREFIX}
    gunicorn = Gunicorn(app_env, tmp_path / "logs", workers=1, threads=2)
    try:
        nginx = Nginx(nginx_bin, tmp_path / "nginx", gunicorn.port, tmp_path / "exports")
        try:
            yield gunicorn.port, nginx.port, app_env
        finally:
            nginx.stop()
    finally:
        gunicorn.stop()


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=TIMEOUT_SECONDS)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def _raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a request sent byte for byte, however malformed."""
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT_SECONDS) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _assert_json_error(status: int, headers: dict, body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    assert orjson.loads(body)["error"]["code"] == code


def _admin() -> dict:
    return {"Authorization": f"Bearer {make_token()}"}


def test_nginx_accepts_the_shipped_config(nginx_bin, tmp_path):
    for conf in (write_nginx_conf(tmp_path / "nginx", 8080, 8000, tmp_path / "exports"),
                 write_site_check_conf(tmp_path / "site")):
        checked = check_nginx_conf(nginx_bin, conf)
        assert checked.returncode == 0, checked.stderr


def test_a_download_is_sent_by_nginx_through_x_accel_redirect(stack, db):
    _, port, app_env = stack
    response, data = _request(port, "POST", EXPORTS, orjson.dumps({"dataset": "users"}),
                              {**_admin(), "Content-Type": "application/json"})
    assert response.status == 201, data
    export_id = orjson.loads(data)["export_id"]
    settings = _settings(app_env)
    generate_export(db, settings, export_id)  # the worker's job, done here
    status = orjson.loads(_request(port, "GET", f"{EXPORTS}/{export_id}", headers=_admin())[1])
    response, data = _request(port, "GET", status["download_url"])
    assert response.status == 200, data
    published = settings.export_dir / f"{export_id}.csv"
    assert data == published.read_bytes()
    assert published.stat().st_mode & 0o777 == 0o640  # nginx reads it as a member of the service's group
    assert response.getheader("Content-Type").startswith("text/csv")
    assert response.getheader("Content-Disposition").startswith('attachment; filename="users_')
    assert response.getheader("X-Accel-Redirect") is None
    tampered = status["download_url"].replace("signature=", "signature=0")
    response, data = _request(port, "GET", tampered)
    assert response.status == 404 and orjson.loads(data)["error"]["code"] == "not_found"
    # The internal location is nginx's alone.
    _assert_json_error(*_raw(port, f"GET {ACCEL_PREFIX}{export_id}.csv HTTP/1.1\r\nHost: x\r\n"
                                   f"Connection: close\r\n\r\n".encode()), 404, "not_found")


def test_nginx_answers_head_and_range_of_a_download_and_the_app_audits_them(stack, db):
    _, port, app_env = stack
    response, data = _request(port, "POST", EXPORTS, orjson.dumps({"dataset": "users"}),
                              {**_admin(), "Content-Type": "application/json"})
    export_id = orjson.loads(data)["export_id"]
    settings = _settings(app_env)
    generate_export(db, settings, export_id)
    url = orjson.loads(_request(port, "GET", f"{EXPORTS}/{export_id}", headers=_admin())[1])["download_url"]
    whole = (settings.export_dir / f"{export_id}.csv").read_bytes()
    head, body = _request(port, "HEAD", url)  # what `curl -I` sends
    assert head.status == 200 and body == b"" and int(head.getheader("Content-Length")) == len(whole)
    first, part = _request(port, "GET", url, headers={"Range": "bytes=0-9"})
    assert first.status == 206 and part == whole[:10]
    rest, remainder = _request(port, "GET", url, headers={"Range": "bytes=10-"})
    assert rest.status == 206 and part + remainder == whole
    status = orjson.loads(_request(port, "GET", f"{EXPORTS}/{export_id}", headers=_admin())[1])
    assert [(d["status"], d["bytes_sent"], d["range"]) for d in reversed(status["downloads"])] == [
        (200, 0, None), (206, 10, "bytes=0-9"), (206, len(whole) - 10, "bytes=10-")]


def _settings(app_env: dict):
    from core.config import load_settings

    return load_settings(app_env, needs_jwt_secret=True)


def test_every_error_of_nginx_is_json(stack):
    _, port, _ = stack
    token = _admin()["Authorization"]
    big_body = json.dumps({"dataset": "users", "x": "a" * 70_000}).encode()
    _assert_json_error(*_raw(port, b"POST " + EXPORTS.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
                             + token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(big_body)).encode() + b"\r\nConnection: close\r\n\r\n" + big_body),
                       413, "payload_too_large")
    _assert_json_error(*_raw(port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                       414, "uri_too_long")
    _assert_json_error(*_raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000
                             + b"\r\nConnection: close\r\n\r\n"), 431, "headers_too_large")
    _assert_json_error(*_raw(port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"), 400, "validation_error")
    _assert_json_error(*_raw(port, b"NOT A REQUEST\r\n\r\n"), 400, "validation_error")
    _assert_json_error(*_raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                       404, "not_found")


@pytest.mark.parametrize("through", ["nginx", "gunicorn"])
def test_a_chunked_json_post_is_read(stack, through):
    gunicorn_port, nginx_port, _ = stack
    body = json.dumps({"dataset": "users"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    status, headers, data = _raw(
        nginx_port if through == "nginx" else gunicorn_port,
        b"POST " + EXPORTS.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + _admin()["Authorization"].encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert status == 201, data


def test_gunicorn_alone_answers_its_own_errors_in_json(stack):
    port, _, _ = stack
    _assert_json_error(*_raw(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "uri_too_long")
    _assert_json_error(*_raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"),
                       431, "headers_too_large")
    _assert_json_error(*_raw(port, b"NOT A REQUEST\r\n\r\n"), 400, "validation_error")
    big = b"a" * 70_000
    _assert_json_error(*_raw(port, b"POST " + EXPORTS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
                             + str(len(big)).encode() + b"\r\nConnection: close\r\n\r\n" + big),
                       413, "payload_too_large")


def test_gunicorn_binds_to_loopback_unless_told(monkeypatch):
    monkeypatch.delenv("BIND", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    config = runpy.run_path(str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"))
    assert config["bind"] == "127.0.0.1:8000"


def test_nginx_compresses_json_and_the_dashboards_assets(stack):
    _, port, _ = stack
    for path in ("/api/v1/openapi.json", "/admin/app.css"):
        status, headers, _ = _raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                                        "Connection: close\r\n\r\n".encode())
        assert status == 200 and headers.get("content-encoding") == "gzip", (path, headers)
