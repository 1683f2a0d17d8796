"""`wallet-analytics verify [--repair]` and `etl --enqueue`: the operator's proof and the queue from the CLI."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.dates import local_today
from core.tables import analytics_token_daily, analytics_user_monthly
from tests.etl_helpers import KOLKATA, snapshot, token_daily
from tests.factories import add_ledger, add_user, forget_changes
from workers.cli import main

TODAY = local_today(KOLKATA)
DAY = TODAY - timedelta(days=3)


@pytest.fixture
def cli_env(db, env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    add_user(db, 1)
    add_ledger(db, 1, "credit", 1_600, f"{DAY} 06:30:00")
    add_ledger(db, 1, "debit", 100, f"{DAY + timedelta(days=1)} 06:30:00")
    assert main(["etl", "--from", str(DAY), "--to", str(DAY + timedelta(days=1))]) == 0
    return env


def test_stored_days_equal_to_the_base_tables_verify(db, cli_env, capsys):
    capsys.readouterr()
    assert main(["verify"]) == 0
    assert "Verified 2 stored day(s): 0 differ from the base tables, 0 pending a fold-in" in capsys.readouterr().out


def test_a_change_not_folded_in_yet_is_pending_not_drift(db, cli_env, capsys):
    add_ledger(db, 1, "credit", 100_000, f"{DAY} 07:00:00", reason="admin_adjustment")
    capsys.readouterr()
    assert main(["verify", "--from", str(DAY), "--to", str(DAY)]) == 0
    out = capsys.readouterr().out
    assert f"{DAY} (pending a fold-in): credited: stored 1600, base tables 101600" in out


def test_drift_is_found_figure_by_figure_and_repaired(db, cli_env, capsys):
    expected = snapshot(db)
    # Drift as no writer could cause it: the stored rows edited behind the capture's back.
    with db.begin() as conn:
        conn.execute(analytics_token_daily.update().where(analytics_token_daily.c.date == DAY)
                     .values(credited=1, net=1))
        conn.execute(analytics_user_monthly.update().values(debited=999))
        forget_changes(conn)
    capsys.readouterr()

    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert f"{DAY}: credited: stored 1, base tables 1600; net: stored 1, base tables 1600" in out
    assert f"{DAY.strftime('%Y-%m')}: per-user sums differ from the sum of its days'" in out

    assert main(["verify", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "After the repair:\nVerified 2 stored day(s): 0 differ" in out
    assert snapshot(db) == expected
    assert token_daily(db)[DAY]["credited"] == 1_600


def test_etl_enqueue_queues_a_run_for_the_workers(db, cli_env, capsys):
    capsys.readouterr()
    assert main(["etl", "--enqueue", "--date", str(DAY)]) == 0
    first = capsys.readouterr().out
    assert f"queued: {DAY} to {DAY}" in first
    assert main(["etl", "--enqueue", "--from", str(DAY - timedelta(days=1)), "--to", str(DAY)]) == 0
    assert "joined the queued run" in capsys.readouterr().out
    assert main(["etl", "--enqueue"]) == 1
    assert "--enqueue needs the days" in capsys.readouterr().err
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM analytics_etl_runs WHERE status = 'queued'")).scalar() == 1
