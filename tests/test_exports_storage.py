"""Exports in S3 (EXPORT_STORAGE=s3://bucket/prefix) against a real S3 server, SeaweedFS: the
worker streams the file up as a multipart upload, the signed link answers 303 with a presigned
URL, and a failure, a cancel, an expiry or the janitor leave no object and no upload behind."""

from __future__ import annotations

import gzip
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from core.dates import utc_now
from core.exports import generation
from core.exports.generation import generate_export
from core.exports.maintenance import expire_exports, fail_stuck_exports
from core.exports.storage import storage_of
from core.tables import analytics_exports, wallet_ledger
from tests import factories as f
from tests.bench.seaweed import BUCKET
from tests.exports_support import EXPORTS, create, parse, wait_until_done

USERS = 40


@pytest.fixture
def in_s3(s3_env, db, admin_headers):
    for user_id in range(2, USERS + 1):
        f.add_user(db, user_id, username=f"usér{user_id}")
    return s3_env


def _fetch(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers


@pytest.mark.parametrize("export_type, compression", [("csv", "none"), ("jsonl", "gzip"), ("parquet", "none")])
def test_an_export_in_s3_downloads_through_a_redirect(in_s3, s3_server, client, admin_headers, worker, settings,
                                                      export_type, compression):
    done = wait_until_done(client, admin_headers, create(client, admin_headers, {
        "type": export_type, "dataset": "users", "compression": compression})["export_id"])
    assert done["status"] == "ready", done
    name = done["download_url"].split("?")[0].rsplit("/", 1)[1]
    assert s3_server.keys(in_s3) == [f"{name}"]
    assert s3_server.uploads(in_s3) == []
    assert not settings.export_dir.exists()  # nothing on local disk

    response = client.simulate_get(done["download_url"])
    assert response.status_code == 303
    assert response.headers["Cache-Control"] == "private, no-store"
    presigned = response.headers["Location"]
    assert presigned.startswith(settings.export_s3_endpoint_url) and "X-Amz-Signature=" in presigned
    assert "X-Amz-Expires=300" in presigned  # a few minutes: the client follows it at once
    content, headers = _fetch(presigned)
    assert len(content) == done["file_size"]
    suffix = ".gz" if compression == "gzip" else ""
    assert headers["Content-Disposition"].endswith(f'.{export_type}{suffix}"')
    if compression == "gzip":
        assert headers["Content-Type"] == "application/gzip"
        content = gzip.decompress(content)
    if export_type == "csv":
        rows = parse("csv", content)
        assert len(rows) == USERS + 1 and rows[2][1] == "usér2"
    elif export_type == "jsonl":
        assert [item["id"] for item in parse("jsonl", content)] == list(range(1, USERS + 1))
    else:
        assert content[:4] == b"PAR1"


def _big_ledger(engine, rows: int) -> None:
    """About 10 KB a row: megabytes of file from a few hundred rows."""
    with engine.begin() as conn:
        conn.execute(sa.insert(wallet_ledger), [
            {"id": f"01BIGROW{number:018d}", "user_id": 2, "token_type": "regular", "direction": "debit",
             "reason": "chapter_generation", "amount": 1, "metadata": {"note": "x" * 10_000},
             "occurred_at": datetime(2025, 11, 2) + timedelta(seconds=number)} for number in range(rows)])


def test_a_part_at_a_time_and_a_failure_leaves_no_object_and_no_upload(in_s3, s3_server, db, settings,
                                                                        monkeypatch):
    monkeypatch.setattr("core.exports.storage.PART_BYTES", 5 * 1024 * 1024)  # S3's smallest
    _big_ledger(db, 1200)  # ~12 MB: two full parts and a last one
    first = create_directly(db, settings, dataset="transactions")
    generate_export(db, settings, first)
    key = f"{first}.csv"
    # A multipart object's ETag is the digest of its parts' digests, then "-<number of parts>".
    assert s3_server.client.head_object(Bucket=BUCKET, Key=in_s3 + key)["ETag"].strip('"').endswith("-3")
    body = s3_server.client.get_object(Bucket=BUCKET, Key=in_s3 + key)["Body"].read()
    assert len(parse("csv", body)) == 1200 + 1

    real_stream = generation._stream

    def failing(engine, query):
        for number, row in enumerate(real_stream(engine, query)):
            if number == 1000:  # after the first part went up
                raise ValueError("the disk of the database burned")
            yield row

    monkeypatch.setattr(generation, "_stream", failing)
    second = create_directly(db, settings, dataset="transactions", columns=["id", "metadata"])
    generate_export(db, settings, second)
    with db.connect() as conn:
        assert conn.execute(sa.select(analytics_exports.c.status).where(analytics_exports.c.id == second)
                            ).scalar() == "failed"
    assert s3_server.keys(in_s3) == [key]
    assert s3_server.uploads(in_s3) == []


def test_expiry_and_cancel_delete_the_object(in_s3, s3_server, client, admin_headers, db, settings):
    first, second = create_directly(db, settings), create_directly(db, settings, columns=["id"])
    generate_export(db, settings, first)
    generate_export(db, settings, second)
    assert len(s3_server.keys(in_s3)) == 2
    with db.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == first)
                     .values(expires_at=utc_now() - timedelta(seconds=1)))
    assert expire_exports(db, settings) == 1
    assert s3_server.keys(in_s3) == [f"{second}.csv"]
    assert client.simulate_delete(f"{EXPORTS}/{second}", headers=admin_headers).json["status"] == "expired"
    assert s3_server.keys(in_s3) == []


def test_the_janitor_aborts_uploads_no_worker_has_touched(in_s3, s3_server, db, settings):
    s3_server.client.create_multipart_upload(Bucket=BUCKET, Key=f"{in_s3}01JANITOR0000000000000000.csv")
    elsewhere = s3_server.new_prefix()
    s3_server.client.create_multipart_upload(Bucket=BUCKET, Key=f"{elsewhere}not-ours.csv")
    fail_stuck_exports(db, settings)  # the upload is fresh: a live worker may be writing it
    assert len(s3_server.uploads(in_s3)) == 1
    fail_stuck_exports(db, settings, now=utc_now() + timedelta(minutes=settings.export_stuck_minutes + 1))
    assert s3_server.uploads(in_s3) == []
    assert s3_server.uploads(elsewhere) == ["not-ours.csv"]  # only under our prefix


def test_a_new_attempt_aborts_the_upload_of_a_dead_one(in_s3, s3_server, db, settings):
    export_id = create_directly(db, settings)
    s3_server.client.create_multipart_upload(Bucket=BUCKET, Key=f"{in_s3}{export_id}.csv")  # died mid-write
    generate_export(db, settings, export_id)
    assert s3_server.uploads(in_s3) == []
    assert s3_server.keys(in_s3) == [f"{export_id}.csv"]


def test_the_presigned_url_names_the_bucket_and_key_and_nothing_local(in_s3, settings):
    url = storage_of(settings).presigned_url("01ABC.csv", "users_20251101000000.csv", "text/csv; charset=utf-8")
    assert urlsplit(url).path == f"/{BUCKET}/{in_s3}01ABC.csv"


def create_directly(engine, settings, columns=None, dataset="users") -> str:
    from core.exports.records import create_export
    from core.exports.validation import parse_request

    body = {"dataset": dataset, **({"columns": columns} if columns else {})}
    if dataset == "transactions":
        body["filters"] = {"from": "2025-11-01", "to": "2025-11-08"}
    with engine.begin() as conn:
        record, created = create_export(conn, settings, 1, parse_request(body))
    assert created
    return record["id"]
