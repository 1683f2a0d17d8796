"""Helpers of the export tests: create an export through the API, wait for it, and download
it through its signed link."""

from __future__ import annotations

import csv
import io
import time
from contextlib import contextmanager

import orjson

EXPORTS = "/api/v1/admin/analytics/exports"
WAIT_SECONDS = 30  # a safety net against a hung test, not a speed requirement


def create(client, headers, body: dict) -> dict:
    """The export that answers `body`: a new one (201), or the equal one the admin already has
    (200, tests/test_exports_api.py checks which)."""
    response = client.simulate_post(EXPORTS, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json


def wait_until_done(client, headers, export_id: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        body = client.simulate_get(f"{EXPORTS}/{export_id}", headers=headers).json
        if body["status"] != "preparing":
            return body
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} still preparing after {WAIT_SECONDS}s")


def download(client, done: dict) -> bytes:
    """The file of a `ready` export, through its signed link."""
    assert done["status"] == "ready", done
    response = client.simulate_get(done["download_url"])
    assert response.status_code == 200, response.text
    return response.content


def parse(export_type: str, content: bytes):
    """CSV as a list of lists with the header first; JSON as parsed; JSON Lines as a list of objects."""
    if export_type == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8"))))
    if export_type == "jsonl":
        return [orjson.loads(line) for line in content.splitlines()]
    return orjson.loads(content)


def export_and_download(client, headers, body: dict):
    """(status body, parsed rows), as `parse` reads them."""
    done = wait_until_done(client, headers, create(client, headers, body)["export_id"])
    return done, parse(body.get("type", "csv"), download(client, done))


@contextmanager
def users_export_held(engine):
    """A write lock on `wallets` holds a worker in the middle of a users export: its attempt has
    started and its temporary file exists, and its query (users joined with their wallets)
    waits. A real export, really running (MariaDB's LOCK TABLES)."""
    with engine.connect() as blocker:
        blocker.exec_driver_sql("LOCK TABLES wallets WRITE")
        try:
            yield
        finally:
            blocker.exec_driver_sql("UNLOCK TABLES")
