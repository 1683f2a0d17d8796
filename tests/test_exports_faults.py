"""Failures never leave an export stuck or a half file behind; cleanup expires old files."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import dramatiq
import psutil
import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware.time_limit import TimeLimitExceeded
from ulid import ULID

from core.config import load_settings
from core.dates import utc_now
from core.exports import formats, generation, state
from core.exports.generation import generate_export
from core.exports.maintenance import requeue_lost_exports
from core.exports.validation import parse_request
from core.tables import analytics_exports, users
from tests import factories as f
from tests.conftest import forget_queued_messages, make_token
from tests.exports_support import EXPORTS, WAIT_SECONDS, create, users_export_held, wait_until_done
from workers import jobs
from workers.broker import build_broker
from workers.cli import main
from workers.enqueue import export_enqueuer
from workers.jobs import declare_actors

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REDELIVERY_SECONDS = 30  # issue 12: a dead worker's messages run again within 30 s of its death


@pytest.fixture
def admin(db, admin_headers):
    return db


def _leftovers(settings):
    return sorted(p.name for p in settings.export_dir.glob("*")) if settings.export_dir.exists() else []


def test_an_error_while_writing_fails_the_export_and_removes_the_partial_file(
        client, admin_headers, admin, settings, worker, monkeypatch):
    def broken_writer(out, layout, rows, tz, progress):
        out.write(b"id,username\n" * 5000)
        out.flush()
        raise RuntimeError("disk controller on fire at /secret/path")

    monkeypatch.setitem(formats.FORMATS, "csv", replace(formats.FORMATS["csv"], write=broken_writer))
    done = wait_until_done(client, admin_headers, create(client, admin_headers, {"dataset": "users"})["export_id"])
    assert done["status"] == "failed"
    assert done["error_message"] == "Export failed (RuntimeError); quote the export id when reporting it"
    assert "download_url" not in done and done["completed_at"]
    assert _leftovers(settings) == []


def _generate_on_a_worker(settings, export_id: str) -> None:
    """Send the export's message to a real in-process worker and wait until every retry is done."""
    broker = StubBroker()
    declare_actors(broker, settings)
    running = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    running.start()
    try:
        broker.get_actor(jobs.GENERATE_EXPORT).send(export_id)
        broker.join(jobs.EXPORTS_QUEUE, timeout=WAIT_SECONDS * 1000, fail_fast=False)  # a failed message is the test
        running.join()
    finally:
        running.stop()


def _rows_written(engine, export_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(analytics_exports.c.rows_written)
                            .where(analytics_exports.c.id == export_id)).scalar_one()


def test_transient_database_errors_are_retried_by_the_actor_each_attempt_from_zero(admin, settings, monkeypatch):
    export_id = _create_directly(admin, "users")
    real, progress_at_start = generation._write_and_publish, []

    def flaky(engine, settings, record):
        progress_at_start.append(_rows_written(engine, export_id))
        if len(progress_at_start) < 3:
            with engine.begin() as conn:  # this attempt got some way before the database went
                state.record_progress(conn, export_id, 5000, utc_now())
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("Lost connection to MySQL server"))
        real(engine, settings, record)

    monkeypatch.setattr(generation, "_write_and_publish", flaky)
    _generate_on_a_worker(settings, export_id)
    assert progress_at_start == [0, 0, 0]  # no attempt shows the rows of the one before
    assert _status(admin, export_id) == ("ready", None)


def test_a_database_that_stays_down_fails_the_export_readably(admin, settings, monkeypatch):
    export_id = _create_directly(admin, "users")
    attempts = []

    def down(engine, settings, record):
        attempts.append(1)
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("Can't connect to MySQL server on 10.0.0.1"))

    monkeypatch.setattr(generation, "_write_and_publish", down)
    _generate_on_a_worker(settings, export_id)
    status, message = _status(admin, export_id)
    assert (len(attempts), status) == (jobs.EXPORT_ATTEMPTS, "failed")
    assert message == "Database unavailable while generating the export; create it again later"


def test_rows_written_shows_progress_while_preparing(client, admin_headers, admin, settings, monkeypatch):
    for user_id in range(2, 8):
        f.add_user(admin, user_id)
    monkeypatch.setattr("core.exports.writers.PROGRESS_EVERY", 2)
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    real_stream, seen = generation._stream, []

    def watched(engine, query):
        for row in real_stream(engine, query):
            seen.append(client.simulate_get(f"{EXPORTS}/{export_id}", headers=admin_headers).json["rows_written"])
            yield row

    monkeypatch.setattr(generation, "_stream", watched)
    generate_export(admin, settings, export_id)
    assert seen == [0, 0, 2, 2, 4, 4, 6]  # looked at just before each row is written
    assert wait_until_done(client, admin_headers, export_id)["actual_rows"] == 7


def test_never_more_than_the_row_limit(client, admin_headers, admin, settings):
    for user_id in range(2, 6):
        f.add_user(admin, user_id)
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    # The data grew past EXPORT_MAX_ROWS since the estimate.
    generate_export(admin, replace(settings, export_max_rows=3), export_id)
    body = wait_until_done(client, admin_headers, export_id)
    assert (body["estimated_rows"], body["actual_rows"]) == (5, 3)


def test_a_finished_export_is_not_generated_again(admin, settings):
    export_id = _create_directly(admin, "users")
    generate_export(admin, settings, export_id)
    first = (settings.export_dir / f"{export_id}.csv").stat().st_mtime_ns
    generate_export(admin, settings, export_id)  # a duplicate delivery
    assert (settings.export_dir / f"{export_id}.csv").stat().st_mtime_ns == first


def test_cleanup_expires_old_exports_and_deletes_their_files(admin, settings, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    old, fresh = _create_directly(admin, "users"), _create_directly(admin, "users")
    generate_export(admin, settings, old)
    generate_export(admin, settings, fresh)
    with admin.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == old)
                     .values(expires_at=utc_now() - timedelta(seconds=1)))
    assert main(["exports", "cleanup"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Cleaned up 1 expired export(s); queued 0 lost export(s) again; failed 0 stuck export(s)")
    assert _status(admin, old)[0] == "expired" and _status(admin, fresh)[0] == "ready"
    assert _leftovers(settings) == [f"{fresh}.csv"]
    assert main(["exports", "cleanup"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Cleaned up 0 expired export(s); queued 0 lost export(s) again; failed 0 stuck export(s)")


def test_cleanup_fails_stuck_exports_and_removes_their_stale_partial_files(admin, settings, env, monkeypatch,
                                                                            capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stuck, recent = _create_directly(admin, "users"), _create_directly(admin, "users")
    with admin.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == stuck)
                     .values(created_at=utc_now() - timedelta(minutes=16)))
    settings.export_dir.mkdir(parents=True)
    stale, live = settings.export_dir / f".{stuck}.x.tmp", settings.export_dir / f".{recent}.y.tmp"
    stale.write_text("half")
    live.write_text("being written")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    assert main(["exports", "cleanup"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Cleaned up 0 expired export(s); queued 0 lost export(s) again; failed 1 stuck export(s)")
    status, message = _status(admin, stuck)
    assert status == "failed" and message.startswith("Timed out: still preparing after 15 minutes")
    assert _status(admin, recent)[0] == "preparing"
    assert _leftovers(settings) == [live.name]
    # A worker that finishes after the janitor gave up publishes nothing and leaves no file.
    generate_export(admin, settings, stuck)
    assert _status(admin, stuck)[0] == "failed" and not (settings.export_dir / f"{stuck}.csv").exists()


@pytest.fixture
def six_thousand_users(admin, settings):
    """More rows than one progress update (5,000), and no message left by earlier tests."""
    if admin.dialect.name == "sqlite":
        pytest.skip("the killed worker is held mid-export by a MariaDB table lock; SQLite has none")
    with admin.begin() as conn:
        conn.execute(sa.insert(users), [
            {"id": n, "username": f"bulk{n}", "email": f"bulk{n}@example.com", "created_at": utc_now()}
            for n in range(2, 6002)
        ])
    forget_queued_messages(build_broker(settings))
    return admin



def test_a_worker_killed_mid_export_is_replaced_and_the_export_completes(
        client, admin_headers, admin, six_thousand_users, settings, env, database_url):
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]

    with users_export_held(admin):
        doomed = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", "1", "--threads", "1"],
            cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(lambda: _export_query_is_blocked(admin))
        finally:
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait()
    assert _status(admin, export_id)[0] == "preparing"
    assert len(list(settings.export_dir.glob(".*.tmp"))) == 1  # the dead worker's half file

    # A new worker that declares a worker dead after 2 s of silence and looks every 0.2 s.
    broker = build_broker(load_settings({**env, "WORKER_HEARTBEAT_TIMEOUT_MS": "2000",
                                         "WORKER_MAINTENANCE_INTERVAL_MS": "200"}, needs_download_secret=True))
    declare_actors(broker, settings)
    replacement = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    replacement.start()
    try:
        done = wait_until_done(client, admin_headers, export_id)
    finally:
        replacement.stop()
        broker.close()
    assert done["status"] == "ready" and done["actual_rows"] == 6001
    assert _leftovers(settings) == [f"{export_id}.csv"]
    lines = (settings.export_dir / f"{export_id}.csv").read_text().splitlines()
    assert len(lines) == 6002 and lines[-1].startswith("6001,bulk6001,")


def _export_query_is_blocked(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE state LIKE '%lock%' AND info LIKE 'SELECT%FROM users%'"
        )).scalar() > 0


def _wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _create_directly(engine, dataset: str) -> str:
    """A new `preparing` export of admin 1, however many equal ones there are (no dedupe, no cap)."""
    record = {"id": str(ULID()), "user_id": 1, "type": "csv", "dataset": dataset,
              "filters": parse_request({"dataset": dataset}).filters, "columns": None, "estimated_rows": 0,
              "created_at": utc_now()}
    with engine.begin() as conn:
        state.insert(conn, record)
    return record["id"]


def _status(engine, export_id):
    with engine.connect() as conn:
        row = conn.execute(sa.select(analytics_exports.c.status, analytics_exports.c.error_message)
                           .where(analytics_exports.c.id == export_id)).one()
    return row.status, row.error_message


def test_the_worker_time_limit_fails_the_export(admin, settings, monkeypatch):
    export_id = _create_directly(admin, "users")

    def too_slow(engine, settings, export_id):
        raise TimeLimitExceeded()

    monkeypatch.setattr(jobs, "generate_export", too_slow)
    jobs.declare_actors(StubBroker(), settings)[jobs.GENERATE_EXPORT].fn(export_id)
    status, message = _status(admin, export_id)
    assert status == "failed" and message.startswith("Timed out after 10 minutes")


def test_a_file_whose_export_cannot_be_marked_ready_is_removed(admin, settings, monkeypatch):
    export_id = _create_directly(admin, "users")
    real_begin = type(admin).begin

    def begin_failing_on_publish(engine):
        if (settings.export_dir / f"{export_id}.csv").exists():
            raise sa.exc.OperationalError("UPDATE analytics_exports", {}, Exception("Lost connection"))
        return real_begin(engine)

    monkeypatch.setattr(type(admin), "begin", begin_failing_on_publish)
    with pytest.raises(sa.exc.OperationalError):  # transient: for the actor to retry
        generate_export(admin, settings, export_id)
    monkeypatch.undo()
    assert _leftovers(settings) == []
    assert _status(admin, export_id) == ("preparing", None)


def _silent_since(engine, export_id: str, minutes: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == export_id)
                     .values(created_at=utc_now() - timedelta(minutes=minutes)))


def test_an_export_whose_message_was_lost_is_queued_again_once(admin, settings):
    lost, fresh = _create_directly(admin, "users"), _create_directly(admin, "users")
    _silent_since(admin, lost, 6)  # never picked up: its message is gone
    sent = []
    assert requeue_lost_exports(admin, settings, sent.append) == 1
    assert sent == [lost]
    assert requeue_lost_exports(admin, settings, sent.append, now=utc_now() + timedelta(minutes=6)) == 1
    assert sent == [lost, fresh]  # the other one, in its turn; never the first again
    assert requeue_lost_exports(admin, settings, sent.append, now=utc_now() + timedelta(minutes=60)) == 0
    with admin.connect() as conn:
        assert conn.execute(sa.select(analytics_exports.c.requeued_at)
                            .where(analytics_exports.c.id == lost)).scalar_one() is not None


def test_a_worker_showing_progress_is_not_taken_for_lost(admin, settings):
    export_id = _create_directly(admin, "users")
    _silent_since(admin, export_id, 10)
    with admin.begin() as conn:
        state.start_attempt(conn, export_id, utc_now() - timedelta(minutes=6))
        state.record_progress(conn, export_id, 5000, utc_now() - timedelta(minutes=1))
    assert requeue_lost_exports(admin, settings, lambda _: pytest.fail("queued a live export")) == 0


def test_the_janitor_queues_a_lost_export_for_a_real_worker(admin, settings, broker, worker):
    export_id = _create_directly(admin, "users")
    _silent_since(admin, export_id, 6)
    assert "queued 1 lost export(s) again" in jobs.clean_up_exports(settings, export_enqueuer(broker))
    _wait_for(lambda: _status(admin, export_id)[0] != "preparing")
    assert _status(admin, export_id) == ("ready", None)


def test_without_redis_the_cleanup_command_leaves_lost_exports_to_the_stuck_rule(admin, settings, env, monkeypatch,
                                                                                    capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    export_id = _create_directly(admin, "users")
    _silent_since(admin, export_id, 6)
    assert main(["exports", "cleanup"]) == 0
    assert "queued 0 lost export(s) again" in capsys.readouterr().out
    assert _status(admin, export_id)[0] == "preparing"


def test_the_worker_service_replaces_a_killed_process_and_its_export_is_redelivered_within_30_s(
        client, admin_headers, admin, six_thousand_users, settings, env, database_url):
    """With the shipped defaults: `wallet-analytics worker`, heartbeat timeout and maintenance timer."""
    service = subprocess.Popen(
        [str(Path(sys.executable).parent / "wallet-analytics"), "worker", "--processes", "1", "--threads", "1"],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
        with users_export_held(admin):
            _wait_for(lambda: _export_query_is_blocked(admin))
            [doomed] = psutil.Process(service.pid).children()
            doomed.kill()
            killed_at = time.monotonic()
            doomed.wait(WAIT_SECONDS)
        deadline = killed_at + REDELIVERY_SECONDS
        while _status(admin, export_id)[0] == "preparing" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _status(admin, export_id)[0] == "ready", f"not redelivered within {REDELIVERY_SECONDS} s"
        assert service.poll() is None, "the worker service exited"
        [replacement] = psutil.Process(service.pid).children()
        assert replacement.pid != doomed.pid
        service.terminate()
        assert service.wait(WAIT_SECONDS) == 0
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait()


def test_a_cancel_before_the_worker_starts_leaves_nothing_to_do(admin, client, admin_headers, settings):
    export_id = _create_directly(admin, "users")
    canceled = client.simulate_delete(f"{EXPORTS}/{export_id}", headers=admin_headers)
    assert (canceled.status_code, canceled.json["status"]) == (200, "canceled")
    assert "completed_at" in canceled.json
    generate_export(admin, settings, export_id)  # its message arrives after the cancel
    assert _status(admin, export_id)[0] == "canceled" and _leftovers(settings) == []
    assert client.simulate_delete(f"{EXPORTS}/{export_id}", headers=admin_headers).json["status"] == "canceled"
    f.add_user(admin, 2, role="admin")
    other = client.simulate_delete(f"{EXPORTS}/{export_id}", headers={"Authorization": f"Bearer {make_token(sub='2')}"})
    assert other.status_code == 404


def test_a_cancel_landing_mid_stream_stops_the_worker_and_leaves_no_file(admin, settings, monkeypatch):
    with admin.begin() as conn:
        conn.execute(sa.insert(users), [
            {"id": n, "username": f"bulk{n}", "email": f"bulk{n}@example.com", "created_at": utc_now()}
            for n in range(2, 6002)
        ])
    export_id = _create_directly(admin, "users")
    monkeypatch.setattr(generation, "CANCEL_CHECK_SECONDS", 0)  # look at every 1,000 rows
    written = []

    def cancel_at_first_progress(engine, exported):
        def record(rows_written):
            written.append(rows_written)
            with engine.begin() as conn:  # the admin's DELETE, landing after 5,000 rows are written
                state.cancel(conn, settings, exported, utc_now())
        return record

    monkeypatch.setattr(generation, "_progress_recorder", cancel_at_first_progress)
    generate_export(admin, settings, export_id)
    assert written == [5000]  # stopped at the next look, before the end (6,001 rows)
    assert _status(admin, export_id)[0] == "canceled"
    assert _leftovers(settings) == []
