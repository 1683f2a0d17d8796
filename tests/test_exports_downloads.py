"""Signed download links: served without a token, refused when tampered with, expired or unknown."""

import gzip
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import sqlalchemy as sa

from core.config import load_settings
from core.dates import utc_now
from core.exports import links
from core.tables import analytics_exports
from tests import factories as f
from tests.exports_support import EXPORTS, create, wait_until_done
from web.resources.exports import download_url


@pytest.fixture
def ready_export(client, admin_headers, db, worker):
    f.add_user(db, 2)
    return wait_until_done(client, admin_headers, create(client, admin_headers, {"dataset": "users"})["export_id"])


def _link_parts(url):
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts.path, query["expires"], query["signature"]


def test_the_link_downloads_without_a_token(client, ready_export, settings):
    response = client.simulate_get(ready_export["download_url"])
    assert response.status_code == 200
    created = ready_export["created_at"]  # e.g. 2026-11-26T02:23:10+05:30
    stamp = created[:19].replace("-", "").replace("T", "").replace(":", "")
    assert response.headers["Content-Disposition"] == f'attachment; filename="users_{stamp}.csv"'
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert int(response.headers["Content-Length"]) == ready_export["file_size"] == len(response.content)
    assert response.text.splitlines()[0] == "id,username,email,role,balance_regular,balance_promo,created_at"
    # Files are named by export id only, and no temporary file is left behind.
    assert [p.name for p in settings.export_dir.iterdir()] == [f"{ready_export['export_id']}.csv"]


def test_the_status_of_a_ready_export(client, admin_headers, ready_export):
    response = client.simulate_get(f"{EXPORTS}/{ready_export['export_id']}", headers=admin_headers)
    body = response.json
    assert "Retry-After" not in response.headers
    assert body["status"] == "ready" and body["actual_rows"] == 2 and body["file_size"] > 0
    assert "rows_written" not in body
    created, completed, expires = body["created_at"], body["completed_at"], body["expires_at"]
    assert datetime.fromisoformat(expires) - datetime.fromisoformat(completed) == timedelta(hours=24)
    assert datetime.fromisoformat(completed) >= datetime.fromisoformat(created)


def test_json_downloads_say_so(client, admin_headers, db, worker):
    done = wait_until_done(client, admin_headers,
                           create(client, admin_headers, {"type": "json", "dataset": "users"})["export_id"])
    response = client.simulate_get(done["download_url"])
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"].endswith('.json"')


def test_gzip_downloads_are_the_gz_file_they_name(client, admin_headers, db, worker):
    done = wait_until_done(client, admin_headers, create(client, admin_headers, {
        "type": "jsonl", "dataset": "users", "compression": "gzip"})["export_id"])
    assert done["download_url"].startswith(f"/exports/{done['export_id']}.jsonl.gz?")
    response = client.simulate_get(done["download_url"])
    assert response.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in response.headers  # the client keeps the .gz it was promised
    assert response.headers["Content-Disposition"].endswith('.jsonl.gz"')
    assert [orjson.loads(line)["id"] for line in gzip.decompress(response.content).splitlines()] == [1]
    path, query = done["download_url"].split("?")
    _expect_404(client, f"{path.removesuffix('.gz')}?{query}")  # the same export, not gzipped: no such file


def _expect_404(client, url):
    response = client.simulate_get(url)
    assert response.status_code == 404, url
    assert response.json == {"error": {"code": "not_found", "message": links.NOT_FOUND}}


def test_tampered_links_are_404(client, ready_export):
    path, expires, signature = _link_parts(ready_export["download_url"])
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    _expect_404(client, f"{path}?expires={expires}&signature={flipped}")
    _expect_404(client, f"{path}?expires={int(expires) + 3600}&signature={signature}")
    _expect_404(client, f"{path}?expires={expires}")
    _expect_404(client, f"{path}?signature={signature}")
    _expect_404(client, f"{path[:-3]}json?expires={expires}&signature={signature}")
    other_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    _expect_404(client, f"/exports/{other_id}.csv?expires={expires}&signature={signature}")


@pytest.mark.parametrize("query", [
    {"expires": "\u00b2", "signature": "0" * 64},  # a digit to str.isdigit(), not to int(): was a 500
    {"expires": "1" * 5000, "signature": "0" * 64},  # over int()'s digit limit: was a 500
    {"expires": "1", "signature": "\u00e9" * 64},  # compare_digest() refuses non-ASCII text: was a 500
    {"expires": "1", "signature": "0" * 63},
])
def test_malformed_link_parameters_are_404(client, query):
    response = client.simulate_get("/exports/01ARZ3NDEKTSV4RRFFQ69G5FAV.csv", params=query)
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": links.NOT_FOUND}}


def test_a_correctly_signed_link_to_an_unknown_export_is_404(client, settings):
    url = download_url(links.link(settings, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "csv", "none", utc_now() + timedelta(hours=1)))
    _expect_404(client, url)


def test_an_expired_link_is_404(client, settings, ready_export):
    url = download_url(links.link(settings, ready_export["export_id"], "csv", "none", utc_now() - timedelta(seconds=1)))
    _expect_404(client, url)


def test_a_link_signed_with_another_secret_is_404(client, settings, ready_export):
    forged = replace(settings, download_secret="another-secret-" + "z" * 40)
    url = download_url(links.link(forged, ready_export["export_id"], "csv", "none", utc_now() + timedelta(hours=1)))
    _expect_404(client, url)


@pytest.mark.parametrize("path", [
    "/exports/..%2F..%2Fetc%2Fpasswd",
    "/exports/%2E%2E%2Fwallet.db",
    "/exports/.01ARZ3NDEKTSV4RRFFQ69G5FAV.abc.tmp",
    "/exports/01ARZ3NDEKTSV4RRFFQ69G5FAV.csv%00.txt",
])
def test_no_path_escapes_the_export_dir(client, ready_export, path):
    _, expires, signature = _link_parts(ready_export["download_url"])
    assert client.simulate_get(f"{path}?expires={expires}&signature={signature}").status_code == 404


def test_the_download_secret_derives_from_the_jwt_secret_when_unset(env):
    derived = load_settings(env, needs_download_secret=True).download_secret
    assert derived and derived != env["JWT_SECRET"]
    assert load_settings({**env, "DOWNLOAD_SECRET": "d" * 40}).download_secret == "d" * 40
    assert load_settings({**env, "JWT_SECRET": "j" * 40}).download_secret != derived


def test_an_export_past_its_expiry_reads_expired_before_any_cleanup(client, admin_headers, db, ready_export):
    with db.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == ready_export["export_id"])
                     .values(expires_at=utc_now() - timedelta(seconds=1)))
    one = client.simulate_get(f"{EXPORTS}/{ready_export['export_id']}", headers=admin_headers).json
    listed = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"]
    assert (one["status"], one["download_url"]) == ("expired", None)
    assert [(item["export_id"], item["status"], item["download_url"]) for item in listed] == [
        (ready_export["export_id"], "expired", None)]
    path, expires, signature = _link_parts(ready_export["download_url"])
    assert client.simulate_get(path, params={"expires": expires, "signature": signature}).status_code == 404


def test_canceling_a_ready_export_expires_it_and_deletes_its_file(client, admin_headers, ready_export, settings):
    url = f"{EXPORTS}/{ready_export['export_id']}"
    canceled = client.simulate_delete(url, headers=admin_headers)
    assert canceled.status_code == 200
    assert (canceled.json["status"], canceled.json["download_url"]) == ("expired", None)
    assert list(settings.export_dir.glob(f"{ready_export['export_id']}.*")) == []
    path, expires, signature = _link_parts(ready_export["download_url"])
    assert client.simulate_get(path, params={"expires": expires, "signature": signature}).status_code == 404
    again = client.simulate_delete(url, headers=admin_headers)
    assert (again.status_code, again.json["status"]) == (200, "expired")
