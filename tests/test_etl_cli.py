import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.config import load_settings
from core.dates import local_today
from core.etl.lock import etl_lock
from core.tables import analytics_etl_runs
from tests.etl_helpers import KOLKATA, token_daily
from tests.factories import add_ledger, add_user
from workers.cli import main

TODAY = local_today(KOLKATA)
DAYS_AGO = {n: (TODAY - timedelta(days=n)).isoformat() for n in range(1, 6)}


@pytest.fixture
def cli_env(db, env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    add_user(db, 1)
    # Noon in Kolkata five days ago: the earliest entry.
    add_ledger(db, 1, "credit", 100, f"{DAYS_AGO[5]} 06:30:00")
    return env


def _runs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [r._asdict() for r in conn.execute(sa.select(analytics_etl_runs).order_by(analytics_etl_runs.c.id))]


def test_etl_with_no_arguments_backfills_to_yesterday(db, cli_env, capsys):
    assert main(["etl"]) == 0
    out = capsys.readouterr().out
    assert f"Processing date range: {DAYS_AGO[5]} to {DAYS_AGO[1]}" in out
    assert f"Processed {DAYS_AGO[5]}: credited=100, debited=0, active_users=1" in out
    assert "Total dates processed: 5" in out and "=== Analytics ETL Job Completed Successfully ===" in out
    assert [str(day) for day in sorted(token_daily(db))] == [DAYS_AGO[n] for n in range(5, 0, -1)]
    [run] = _runs(db)
    assert (run["trigger"], run["status"], run["dates_processed"]) == ("cli", "succeeded", 5)


def test_etl_date_and_range_reprocess_exactly_those_days(db, cli_env, capsys):
    assert main(["etl", "--date", DAYS_AGO[3]]) == 0
    assert [str(day) for day in token_daily(db)] == [DAYS_AGO[3]]
    assert main(["etl", "--from", DAYS_AGO[4], "--to", DAYS_AGO[3]]) == 0
    assert sorted(str(day) for day in token_daily(db)) == [DAYS_AGO[4], DAYS_AGO[3]]
    assert f"Processing date range: {DAYS_AGO[4]} to {DAYS_AGO[3]}\n" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--date", "2025-02-30"], "--date is not a real calendar day: '2025-02-30'"),
    (["--date", "11/05/2025"], "--date must be a date in YYYY-MM-DD format"),
    (["--date", TODAY.isoformat()], f"{TODAY} is today in Asia/Kolkata"),
    (["--from", DAYS_AGO[2], "--to", (TODAY + timedelta(days=3)).isoformat()], "is in the future"),
    (["--from", DAYS_AGO[2]], "--from and --to go together"),
    (["--date", DAYS_AGO[2], "--to", DAYS_AGO[1]], "--date names one day"),
])
def test_etl_refuses_bad_dates_before_any_work(db, cli_env, capsys, argv, message):
    assert main(["etl", *argv]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert _runs(db) == [] and token_daily(db) == {}


def test_a_failing_day_exits_non_zero_and_is_recorded(db, cli_env, capsys, monkeypatch):
    import core.materialize

    def failing_store(conn, aggregates):
        raise RuntimeError("lost connection")

    monkeypatch.setattr(core.materialize, "store_day", failing_store)
    assert main(["etl", "--date", DAYS_AGO[2]]) == 1
    [run] = _runs(db)
    assert f"ETL run {run['id']} failed at {DAYS_AGO[2]}: RuntimeError: lost connection" in capsys.readouterr().err
    assert run["status"] == "failed"


def test_a_second_run_exits_already_running_or_waits_with_wait(db, cli_env, capsys):
    holder = etl_lock(load_settings(cli_env), db)
    assert holder.acquire()
    try:
        assert main(["etl", "--date", DAYS_AGO[2]]) == 1
        assert "an ETL run is already running" in capsys.readouterr().err
        exit_codes = []
        waiter = threading.Thread(target=lambda: exit_codes.append(main(["etl", "--wait", "--date", DAYS_AGO[2]])))
        waiter.start()
        time.sleep(0.3)
        assert exit_codes == [] and _runs(db) == []
    finally:
        holder.release()
    waiter.join(10)
    assert exit_codes == [0]
    assert "waiting for it to finish" in capsys.readouterr().out
