"""Webhooks of export transitions (issue 14, point 5): a real HTTP receiver on loopback, real
Dramatiq workers, the signature checked with the secret as a receiver would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jsonschema_rs
import psutil
import pytest
import sqlalchemy as sa

from core.dates import utc_now
from core.exports import records, webhooks
from core.exports.validation import parse_request
from core.tables import analytics_export_events, analytics_exports
from tests import factories as f
from tests.bench.services import PROJECT_ROOT
from tests.exports_support import EXPORTS, create, wait_until_done
from tests.webhook_receiver import Receiver, verify_signature, wait_for
from web.openapi import DOCUMENT
from workers.enqueue import webhook_enqueuer
from workers.jobs import clean_up_exports

SECRET = "webhook-secret-for-the-tests-" + "w" * 20
EVENT_TYPES = ("export.ready", "export.failed", "export.canceled", "export.expired")
COMPONENTS = {"components": DOCUMENT["components"]}  # the document's schema of an event
NOT_IN_EVENTS = ("download_url", "notifications", "downloads", "download_count")


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


@pytest.fixture
def env(env, receiver):
    # A short timeout and backoff, so that retries come quickly.
    return {**env, "EXPORT_WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET,
            "EXPORT_WEBHOOK_TIMEOUT_SECONDS": "1", "EXPORT_WEBHOOK_MIN_BACKOFF_MS": "100",
            "EXPORT_WEBHOOK_MAX_BACKOFF_MS": "400"}


def _status(client, headers, export_id) -> dict:
    return client.simulate_get(f"{EXPORTS}/{export_id}", headers=headers).json


def _notifications(client, headers, export_id) -> list[dict]:
    return _status(client, headers, export_id)["notifications"]


def _delivered(client, headers, export_id) -> list[dict]:
    """The export's notifications once one of them is delivered."""
    return wait_for(lambda: (sent := _notifications(client, headers, export_id)) and sent[-1]["delivered"] and sent,
                    f"an event of {export_id} delivered")


def _preparing_without_a_job(db, settings, body: dict) -> str:
    """An export recorded `preparing` whose message was never sent: only the admin's cancel or
    the stuck rule will change it."""
    with db.begin() as conn:
        record, created = records.create_export(conn, settings, 1, parse_request(body))
    assert created
    return record["id"]


def _canceled(client, headers, db, settings, body: dict) -> str:
    export_id = _preparing_without_a_job(db, settings, body)
    assert client.simulate_delete(f"{EXPORTS}/{export_id}", headers=headers).json["status"] == "canceled"
    return export_id


def _all_delivered(db) -> bool:
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(analytics_export_events.c.delivered_at.is_(None))
                            ).scalar_one() == 0


def test_a_ready_export_sends_one_signed_event(client, admin_headers, db, worker, receiver, settings, broker):
    receiver.start()
    f.add_user(db, 2)
    export_id = wait_until_done(client, admin_headers, create(client, admin_headers, {"dataset": "users"})["export_id"])[
        "export_id"]
    [notified] = _delivered(client, admin_headers, export_id)
    assert notified["event"] == "export.ready" and notified["attempt"] == 1 and notified["status_code"] == 200
    assert notified["error"] is None and notified["attempted_at"].endswith("+05:30")

    [received] = receiver.received
    verify_signature(received, SECRET)
    assert received.headers["Content-Type"] == "application/json"
    event = received.event
    assert event["id"].startswith("evt_") and event["type"] == "export.ready" and isinstance(event["created"], int)
    status = _status(client, admin_headers, export_id)
    assert event["data"]["export"] == {k: v for k, v in status.items() if k not in NOT_IN_EVENTS}
    # Reading it again, listing, and the janitor: no second event.
    listed = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"]
    assert listed[0]["notifications"] == [notified]
    clean_up_exports(settings, None, webhook_enqueuer(broker))
    assert webhooks.dispatch(db, settings, webhook_enqueuer(broker)) == 0
    assert len(receiver.received) == 1


def test_ready_failed_canceled_and_expired_each_send_exactly_one_event(
        client, admin_headers, db, worker, receiver, settings, broker):
    receiver.start()
    f.add_user(db, 2)
    expiring = wait_until_done(client, admin_headers, create(client, admin_headers, {"dataset": "users"})["export_id"])
    stuck = _preparing_without_a_job(db, settings, {"dataset": "users", "filters": {"role": "admin"}})
    with db.begin() as conn:  # preparing for longer than EXPORT_STUCK_MINUTES
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == stuck)
                     .values(created_at=utc_now() - timedelta(minutes=settings.export_stuck_minutes + 1)))
    assert _status(client, admin_headers, stuck)["status"] == "failed"  # the stuck rule, as the GET reads it
    canceled = _canceled(client, admin_headers, db, settings, {"dataset": "users", "filters": {"role": "user"}})
    with db.begin() as conn:  # past its expiry, and nobody reads it: the janitor finds it
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == expiring["export_id"])
                     .values(expires_at=utc_now() - timedelta(seconds=1)))
    assert "expired" in clean_up_exports(settings, None, webhook_enqueuer(broker))

    wait_for(lambda: len(receiver.received) == 4 and _all_delivered(db), "four events delivered")
    # Everything again: reads, a second cancel, the janitor.
    for export_id in (expiring["export_id"], stuck, canceled):
        assert client.simulate_delete(f"{EXPORTS}/{export_id}", headers=admin_headers).status_code == 200
    clean_up_exports(settings, None, webhook_enqueuer(broker))
    assert webhooks.dispatch(db, settings, webhook_enqueuer(broker)) == 0
    assert _all_delivered(db)

    by_type = {event["type"]: event for event in receiver.events()}
    assert sorted(by_type) == sorted(EVENT_TYPES) and len(receiver.received) == 4
    for received in receiver.received:
        verify_signature(received, SECRET)
        jsonschema_rs.validate({"$ref": "#/components/schemas/ExportEvent", **COMPONENTS}, received.event)
    assert by_type["export.ready"]["data"]["export"]["export_id"] == expiring["export_id"]
    assert by_type["export.expired"]["data"]["export"]["export_id"] == expiring["export_id"]
    assert by_type["export.expired"]["data"]["export"]["status"] == "expired"
    assert by_type["export.failed"]["data"]["export"]["export_id"] == stuck
    assert by_type["export.failed"]["data"]["export"]["error_message"].startswith("Timed out")
    assert by_type["export.canceled"]["data"]["export"]["export_id"] == canceled
    assert [n["event"] for n in _notifications(client, admin_headers, expiring["export_id"])] == [
        "export.ready", "export.expired"]


def test_a_receiver_down_for_a_while_gets_the_event_once_it_is_up(
        client, admin_headers, db, worker, receiver, settings):
    export_id = _canceled(client, admin_headers, db, settings, {"dataset": "users"})
    failures = wait_for(lambda: len(sent := _notifications(client, admin_headers, export_id)) >= 3 and sent,
                        "three failed attempts")
    assert all(n["error"] == "connection refused" and n["status_code"] is None and not n["delivered"]
               for n in failures)
    receiver.start()
    sent = _delivered(client, admin_headers, export_id)
    assert [n["attempt"] for n in sent] == list(range(1, len(sent) + 1))
    assert sent[-1]["status_code"] == 200 and sent[-1]["error"] is None
    assert not any(n["delivered"] for n in sent[:-1])
    [received] = receiver.received
    verify_signature(received, SECRET)
    assert received.event["type"] == "export.canceled"


def test_a_500_is_retried_until_a_2xx(client, admin_headers, db, worker, receiver, settings):
    receiver.script = [500, 503]
    receiver.start()
    export_id = _canceled(client, admin_headers, db, settings, {"dataset": "users"})
    sent = _delivered(client, admin_headers, export_id)
    assert [(n["attempt"], n["status_code"], n["error"], n["delivered"]) for n in sent] == [
        (1, 500, None, False), (2, 503, None, False), (3, 200, None, True)]
    assert len({r.body for r in receiver.received}) == 1  # the same event every time


def test_a_slow_receiver_times_out_and_is_tried_again(client, admin_headers, db, worker, receiver, settings):
    receiver.script = [("sleep", settings.export_webhook_timeout_seconds + 2)]
    receiver.start()
    export_id = _canceled(client, admin_headers, db, settings, {"dataset": "users"})
    sent = _delivered(client, admin_headers, export_id)
    assert [(n["status_code"], n["error"], n["delivered"]) for n in sent] == [(None, "timeout", False),
                                                                              (200, None, True)]


@pytest.mark.parametrize("trouble", ["down", "slow"])
def test_exports_are_generated_while_the_receiver_is_down_or_slow(
        client, admin_headers, db, worker, receiver, settings, trouble):
    if trouble == "slow":  # every attempt times out until the script runs out
        receiver.script = [("sleep", settings.export_webhook_timeout_seconds + 1)] * 1000
        receiver.start()
    f.add_user(db, 2)
    waiting = [_canceled(client, admin_headers, db, settings, {"dataset": "users", "filters": {"role": role}})
               for role in ("admin", "user", "service")]
    wait_for(lambda: all(_notifications(client, admin_headers, export_id) for export_id in waiting),
             "an attempt at each event")
    done = wait_until_done(client, admin_headers, create(client, admin_headers, {"dataset": "users"})["export_id"])
    assert done["status"] == "ready" and done["actual_rows"] == 2
    assert not any(n["delivered"] for export_id in waiting for n in _notifications(client, admin_headers, export_id))
    receiver.script = []
    if trouble == "down":
        receiver.start()
    wait_for(lambda: _all_delivered(db), "every event delivered once the receiver is well")
    # A request the sender gave up on reached the receiver all the same: ids tell the events apart.
    assert len({e["id"] for e in receiver.events("export.canceled")}) == 3


def test_without_a_webhook_url_there_are_no_events(client, admin_headers, db, worker, settings, env):
    quiet = replace(settings, export_webhook_url=None, webhook_secret=None)
    f.add_user(db, 2)
    export_id = _preparing_without_a_job(db, quiet, {"dataset": "users"})
    with db.begin() as conn:
        records.cancel_export(conn, quiet, 1, export_id)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_export_events)).scalar_one() == 0


def test_the_worker_service_runs_webhooks_in_a_process_of_their_own(env):
    """`wallet-analytics worker --processes 1` with a webhook URL: one process for the jobs' queues,
    one for the webhooks queue."""
    service = subprocess.Popen(
        [str(Path(sys.executable).parent / "wallet-analytics"), "worker", "--processes", "1", "--threads", "1"],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        children = wait_for(lambda: len(found := psutil.Process(service.pid).children()) == 2 and found,
                            "two worker processes")
        queues = sorted(child.cmdline()[child.cmdline().index("--queues") + 1] for child in children)
        assert queues == ["exports,etl", "webhooks"]
        service.terminate()
        assert service.wait(30) == 0
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()
