"""The download route's HEAD and Range, and its audit: a row for every request whose link's
signature checks out (issue 14, point 6)."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import replace
from datetime import timedelta
from ipaddress import ip_network

import falcon.testing
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.dates import utc_now
from core.exports import links, state
from core.exports.generation import generate_export
from core.tables import analytics_export_downloads
from tests import factories as f
from tests.bench.services import LOOPBACK
from tests.exports_support import EXPORTS, create, wait_until_done
from tests.stack import Gunicorn
from tests.webhook_receiver import wait_for
from web.downloads import CHUNK_BYTES
from web.resources.exports import download_url

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 400  # longer than is kept


@pytest.fixture
def ready_export(client, admin_headers, db, settings):
    """A small users export, generated here (the worker's job) with no worker threads about."""
    for user_id in range(2, 40):
        f.add_user(db, user_id)
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    generate_export(db, settings, export_id)
    return wait_until_done(client, admin_headers, export_id)


def _audit(db) -> list[dict]:
    with db.connect() as conn:
        return [row._asdict() for row in conn.execute(
            sa.select(analytics_export_downloads).order_by(analytics_export_downloads.c.id))]


def _file(settings, ready_export) -> bytes:
    return (settings.export_dir / f"{ready_export['export_id']}.csv").read_bytes()


def test_every_request_with_a_good_signature_is_audited(client, admin_headers, db, ready_export, settings):
    url, size = ready_export["download_url"], ready_export["file_size"]
    headers = {"User-Agent": BROWSER}
    assert client.simulate_get(url, headers=headers).status_code == 200
    assert client.simulate_head(url, headers=headers).status_code == 200
    assert client.simulate_get(url, headers={**headers, "Range": "bytes=10-19"}).status_code == 206
    assert client.simulate_get(url, headers={**headers, "Range": f"bytes={size}-"}).status_code == 416
    stale = download_url(links.link(settings, ready_export["export_id"], "csv", "none", utc_now() - timedelta(seconds=1)))
    assert client.simulate_get(stale, headers=headers).status_code == 404
    assert client.simulate_get(url.replace("signature=", "signature=0"), headers=headers).status_code == 404

    rows = _audit(db)  # the tampered link is not there: it proved nothing about who asked
    assert [(r["status"], r["bytes_sent"], r["range"]) for r in rows] == [
        (200, size, None), (200, 0, None), (206, 10, "bytes=10-19"), (416, 0, f"bytes={size}-"), (404, 0, None)]
    assert {(r["export_id"], r["user_id"], r["client_address"]) for r in rows} == {
        (ready_export["export_id"], 1, "127.0.0.1")}
    assert {r["user_agent"] for r in rows} == {BROWSER[:255]}

    body = client.simulate_get(f"{EXPORTS}/{ready_export['export_id']}", headers=admin_headers).json
    assert body["download_count"] == 5
    assert [(d["status"], d["bytes_sent"], d["range"]) for d in body["downloads"]] == [
        (r["status"], r["bytes_sent"], r["range"]) for r in reversed(rows)]  # newest first
    assert body["downloads"][0]["downloaded_at"].endswith("+05:30")
    listed = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"][0]
    assert "downloads" not in listed and "download_count" not in listed


def test_the_status_lists_the_last_hundred_downloads_and_counts_them_all(client, admin_headers, db, ready_export):
    with db.begin() as conn:
        conn.execute(sa.insert(analytics_export_downloads), [
            {"export_id": ready_export["export_id"], "user_id": 1, "downloaded_at": utc_now(), "status": 200,
             "bytes_sent": n, "client_address": "192.0.2.1"} for n in range(105)])
    body = client.simulate_get(f"{EXPORTS}/{ready_export['export_id']}", headers=admin_headers).json
    assert body["download_count"] == 105
    assert [d["bytes_sent"] for d in body["downloads"]] == list(range(104, 4, -1))


def test_head_answers_the_headers_of_the_get_without_a_body(client, ready_export):
    url = ready_export["download_url"]
    got, head = client.simulate_get(url), client.simulate_head(url)
    assert head.status_code == 200 and head.content == b""
    for name in ("Content-Type", "Content-Length", "Content-Disposition", "ETag", "Last-Modified", "Accept-Ranges",
                 "Cache-Control"):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == ready_export["file_size"]


def test_a_download_resumed_with_range_is_the_same_file(client, ready_export, settings):
    url, whole = ready_export["download_url"], _file(settings, ready_export)
    first = client.simulate_get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == whole[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    rest = client.simulate_get(url, headers={"Range": "bytes=100-", "If-Range": first.headers["ETag"]})
    assert rest.status_code == 206 and rest.headers["Content-Length"] == str(len(whole) - 100)
    assert first.content + rest.content == whole


@pytest.mark.parametrize("header, status", [
    ("bytes=0-0,5-9", 200),  # several ranges: the whole file
    ("bytes=9-3", 200),  # not a valid range: ignored
    ("items=0-9", 200),
    ("bytes=-0", 416),
])
def test_ranges_that_are_not_one_satisfiable_range(client, ready_export, settings, header, status):
    response = client.simulate_get(ready_export["download_url"], headers={"Range": header})
    assert response.status_code == status
    size = ready_export["file_size"]
    if status == 200:
        assert response.content == _file(settings, ready_export) and "Content-Range" not in response.headers
    else:
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert response.json["error"]["code"] == "range_not_satisfiable"


def test_if_range_with_another_validator_gets_the_whole_file(client, ready_export, settings):
    url = ready_export["download_url"]
    head = client.simulate_head(url)
    for validator, status in (('"another-etag"', 200), ("Wed, 21 Oct 2015 07:28:00 GMT", 200),
                              (head.headers["ETag"], 206), (head.headers["Last-Modified"], 206)):
        response = client.simulate_get(url, headers={"Range": "bytes=0-9", "If-Range": validator})
        assert response.status_code == status, validator
    assert client.simulate_get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'}).content == _file(
        settings, ready_export)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0, 4000), second=st.none() | st.integers(0, 4000), suffix=st.booleans())
def test_any_single_range_is_the_slice_of_the_file(client, ready_export, settings, first, second, suffix):
    """The route's answer and Python's slice of the file, for ranges in, across and past the file
    (about 2,300 bytes)."""
    whole = _file(settings, ready_export)
    size = len(whole)
    start, end = (first, second) if second is None or second >= first else (second, first)
    header = f"bytes=-{start}" if suffix else f"bytes={start}-{'' if end is None else end}"
    response = client.simulate_get(ready_export["download_url"], headers={"Range": header})
    expected = whole[-start:] if suffix and start else whole[start:None if end is None else end + 1]
    if (suffix and start == 0) or (not suffix and start >= size):
        assert response.status_code == 416
    else:
        assert response.status_code == 206 and response.content == expected
        assert int(response.headers["Content-Length"]) == len(expected)


def test_behind_a_trusted_proxy_the_client_is_the_nearest_forwarded_hop(settings, broker, ready_export, db):
    from web.app import create_app

    forwarded = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7"}  # the first hop is whatever the client wrote
    for trusted, expected in (("", "127.0.0.1"), ("127.0.0.1/32", "203.0.113.7")):
        proxied = replace(settings, trusted_proxies=(ip_network(trusted),) if trusted else ())
        app = falcon.testing.TestClient(create_app(proxied, enqueue_export=lambda _: None))
        assert app.simulate_get(ready_export["download_url"], headers=forwarded).status_code == 200
        assert _audit(db)[-1]["client_address"] == expected


def test_behind_nginx_the_audit_records_what_nginx_was_told_to_send(settings, ready_export, db):
    from web.app import create_app

    app = falcon.testing.TestClient(create_app(replace(settings, export_accel_prefix="/_export-files/"),
                                               enqueue_export=lambda _: None))
    url = ready_export["download_url"]
    whole = app.simulate_get(url)
    assert whole.headers["X-Accel-Redirect"] == f"/_export-files/{ready_export['export_id']}.csv"
    assert app.simulate_get(url, headers={"Range": "bytes=5-"}).status_code == 206
    size = ready_export["file_size"]
    assert [(r["status"], r["bytes_sent"]) for r in _audit(db)] == [(200, size), (206, size - 5)]


def test_a_redirect_is_recorded_without_bytes(db, ready_export):
    from core.exports.downloads import DownloadRequest, record_download

    record_download(db, DownloadRequest(ready_export["export_id"], "192.0.2.1", "curl/8", None), 302, None)
    assert [(r["status"], r["bytes_sent"]) for r in _audit(db)] == [(302, None)]


@pytest.fixture
def big_ready_export(db, settings, admin_headers):
    """A ready export whose file (16 MiB) is far more than the socket buffers on both sides hold."""
    from core.exports.records import create_export
    from core.exports.validation import parse_request

    with db.begin() as conn:
        record, _ = create_export(conn, settings, 1, parse_request({"dataset": "users"}))
    settings.export_dir.mkdir(parents=True, exist_ok=True)
    path = settings.export_dir / f"{record['id']}.csv"
    path.write_bytes(os.urandom(16 * 1024 * 1024))
    now = utc_now()
    with db.begin() as conn:
        assert state.publish(conn, settings, record["id"], path.name, rows=1, size=path.stat().st_size, now=now,
                             expires_at=now + timedelta(hours=1))
    return record["id"], path.stat().st_size


def test_a_client_that_stops_reading_is_recorded_with_the_bytes_it_was_sent(
        db, settings, env, big_ready_export, tmp_path):
    export_id, size = big_ready_export
    with db.connect() as conn:
        record = state.load(conn, export_id)
    url = download_url(links.link_of(settings, record))
    web = Gunicorn(env, tmp_path / "logs", workers=1, threads=2)
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((LOOPBACK, web.port))
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nUser-Agent: impatient\r\n\r\n".encode())
            received = bytearray()
            while len(received) < 256 * 1024:
                received += sock.recv(65536)
            # Hang up at once (RST), as a client killed mid-download does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        [row] = wait_for(lambda: _audit(db), "the audit row of the interrupted download")
    finally:
        web.stop()
    body_received = len(received) - (received.index(b"\r\n\r\n") + 4)
    assert row["status"] == 200 and row["user_agent"] == "impatient"
    # A chunk counts once written whole: the client may also hold part of the one being written.
    assert body_received <= row["bytes_sent"] + CHUNK_BYTES and row["bytes_sent"] < size


def test_a_full_download_through_gunicorn_records_every_byte(db, settings, env, big_ready_export, tmp_path):
    import http.client

    export_id, size = big_ready_export
    with db.connect() as conn:
        url = download_url(links.link_of(settings, state.load(conn, export_id)))
    web = Gunicorn(env, tmp_path / "logs", workers=1, threads=2)
    try:
        conn = http.client.HTTPConnection(LOOPBACK, web.port, timeout=30)
        conn.request("GET", url)
        assert len(conn.getresponse().read()) == size
        conn.close()
        [row] = wait_for(lambda: _audit(db), "the audit row")
    finally:
        web.stop()
    assert (row["status"], row["bytes_sent"]) == (200, size)
