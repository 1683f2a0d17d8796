import io
from datetime import date, datetime
from functools import partial

import pytest
import sqlalchemy as sa

import core.materialize
from core import user_months
from core.dates import parse_date
from core.errors import BusinessRuleViolation, ValidationError
from core.etl import runs
from core.etl.job import EtlFailed
from core.etl.plan import requested_dates
from core.exports.maintenance import expire_exports
from core.tables import analytics_etl_runs, analytics_exports, analytics_token_daily
from tests.etl_helpers import KOLKATA, NOW, etl, snapshot, token_daily
from tests.factories import add_export, add_ledger, add_purchase, add_user

TODAY = date(2025, 11, 10)


@pytest.fixture
def ledger(db):
    """Activity on 2025-11-01 and 2025-11-03 (Kolkata); nothing on the other days."""
    for user in (1, 2):
        add_user(db, user)
    add_ledger(db, 1, "credit", 1000, "2025-10-31 18:30:00")  # 00:00 on 11-01 local
    add_ledger(db, 2, "debit", 300, "2025-11-01 18:29:59", reason="chapter_generation", token_type="promo")
    add_ledger(db, 2, "credit", 50, "2025-11-03 09:00:00", reason="referral_bonus", token_type="promo")
    add_purchase(db, 1, "2025-10-31 18:30:00", amount_inr="499.00", tokens=1000)
    return db


def _runs(engine) -> list[dict]:
    with engine.connect() as conn:
        return [r._asdict() for r in conn.execute(sa.select(analytics_etl_runs).order_by(analytics_etl_runs.c.id))]


def test_a_first_run_backfills_every_day_from_the_earliest_entry_to_yesterday(ledger, settings):
    result, log = etl(ledger, settings)

    assert result.dates == [date(2025, 11, day) for day in range(1, 10)]
    rows = token_daily(ledger)
    assert sorted(rows) == result.dates
    first = rows[date(2025, 11, 1)]
    assert (first["credited"], first["debited"], first["net"], first["active_users"]) == (1000, 300, 700, 2)
    assert str(first["revenue_in_inr"]) == "499.00"
    quiet = rows[date(2025, 11, 2)]
    assert (quiet["credited"], quiet["debited"], quiet["active_users"], quiet["by_feature"]) == (0, 0, 0, {})
    assert "Processing date range: 2025-11-01 to 2025-11-09\n" in log


def test_the_spec_log_lines_and_the_run_record(ledger, settings):
    _, log = etl(ledger, settings, dates=[date(2025, 11, 1)], cleanup=lambda: 3)

    assert log.splitlines() == [
        "[2025-11-10 11:30:00] === Analytics ETL Job Started ===",
        "[2025-11-10 11:30:00] Processing date range: 2025-11-01 to 2025-11-01",
        "[2025-11-10 11:30:00] Processing date: 2025-11-01",
        "[2025-11-10 11:30:00]   - Processed 2025-11-01: credited=1000, debited=300, active_users=2",
        "[2025-11-10 11:30:00] Total dates processed: 1",
        "[2025-11-10 11:30:00] Cleaning up expired exports...",
        "[2025-11-10 11:30:00] Cleaned up 3 expired export(s)",
        "[2025-11-10 11:30:00] === Analytics ETL Job Completed Successfully ===",
    ]
    [run] = _runs(ledger)
    assert {k: run[k] for k in ("trigger", "status", "first_date", "last_date", "dates_processed", "error_message",
                                "started_at", "finished_at")} == {
        "trigger": "test", "status": "succeeded", "first_date": date(2025, 11, 1), "last_date": date(2025, 11, 1),
        "dates_processed": 1, "error_message": None, "started_at": NOW, "finished_at": NOW,
    }


def test_later_runs_take_the_gaps_and_the_lookback_days(ledger, settings):
    etl(ledger, settings)
    with ledger.begin() as conn:  # a day lost, e.g. deleted by hand
        conn.execute(analytics_token_daily.delete().where(analytics_token_daily.c.date == date(2025, 11, 4)))

    result, log = etl(ledger, settings)

    assert result.dates == [date(2025, 11, 4), date(2025, 11, 8), date(2025, 11, 9)]
    assert "Processing date range: 2025-11-04 to 2025-11-09 (3 of its 6 dates; the others are materialized)" in log
    assert date(2025, 11, 4) in token_daily(ledger)


def test_the_lookback_follows_etl_lookback_days(ledger, env):
    from core.config import load_settings

    settings = load_settings({**env, "ETL_LOOKBACK_DAYS": "5"})
    etl(ledger, settings)
    result, _ = etl(ledger, settings)
    assert result.dates == [date(2025, 11, day) for day in range(5, 10)]


def test_a_late_row_is_picked_up_by_the_lookback_and_by_an_explicit_date(ledger, settings):
    etl(ledger, settings)
    add_ledger(ledger, 1, "debit", 70, "2025-11-09 10:00:00", reason="translation")  # in the lookback
    add_ledger(ledger, 1, "debit", 40, "2025-11-05 10:00:00", reason="translation")  # before it

    etl(ledger, settings, now=datetime(2025, 11, 10, 6, 0))
    rows = token_daily(ledger)
    assert rows[date(2025, 11, 9)]["debited"] == 70
    assert rows[date(2025, 11, 5)]["debited"] == 0

    etl(ledger, settings, dates=requested_dates(date(2025, 11, 5), date(2025, 11, 5), TODAY, KOLKATA))
    assert token_daily(ledger)[date(2025, 11, 5)]["debited"] == 40


def test_rerunning_days_writes_exactly_the_same_rows(ledger, settings):
    etl(ledger, settings)
    before = snapshot(ledger)
    etl(ledger, settings, dates=[date(2025, 11, day) for day in range(1, 10)])
    etl(ledger, settings)
    assert snapshot(ledger) == before


def test_an_empty_ledger_has_nothing_to_process(db, settings):
    result, log = etl(db, settings)
    assert result.dates == []
    assert "No data to process" in log and "Total dates processed: 0" in log
    assert [run["status"] for run in _runs(db)] == ["succeeded"]


def test_a_failure_in_the_middle_of_a_day_leaves_that_day_as_it_was(ledger, settings, monkeypatch):

    etl(ledger, settings)
    before = snapshot(ledger)
    add_ledger(ledger, 1, "debit", 5, "2025-11-02 12:00:00", reason="translation")
    add_ledger(ledger, 2, "debit", 6, "2025-11-03 12:00:00", reason="translation")
    add_ledger(ledger, 1, "debit", 7, "2025-11-04 12:00:00", reason="translation")
    real_upsert = core.materialize.upsert

    def upsert_failing_on_the_3rd(conn, table, rows, key, **options):
        # After the day's user sums, breakdown, referrals and purchases are written.
        if table.name == "analytics_daily_users" and rows[0]["date"] == date(2025, 11, 3):
            raise RuntimeError("disk full")
        real_upsert(conn, table, rows, key, **options)

    monkeypatch.setattr(core.materialize, "upsert", upsert_failing_on_the_3rd)
    with pytest.raises(EtlFailed, match="failed at 2025-11-03: RuntimeError: disk full"):
        etl(ledger, settings, dates=[date(2025, 11, 2), date(2025, 11, 3), date(2025, 11, 4)])

    after = snapshot(ledger)
    redone = date(2025, 11, 2)  # done before the failure; the 3rd as it was, the 4th not reached
    for table, rows in after.items():
        if table not in ("analytics_user_monthly", "analytics_user_months_packed"):
            assert [r for r in rows if r["date"] != redone] == [r for r in before[table] if r["date"] != redone], table
    assert token_daily(ledger)[date(2025, 11, 2)]["debited"] == 5
    assert token_daily(ledger)[date(2025, 11, 3)]["debited"] == 0
    monthly = {r["user_id"]: r["debited"] for r in after["analytics_user_monthly"]}
    assert monthly == {1: 5, 2: 300}  # the month holds the 2nd's change and not the 3rd's
    with ledger.connect() as conn:
        packed = user_months.read(conn, date(2025, 11, 1))
    assert dict(zip(packed.user_ids.tolist(), packed.debited.tolist())) == monthly
    failed = _runs(ledger)[-1]
    assert (failed["status"], failed["dates_processed"], failed["finished_at"]) == ("failed", 1, NOW)
    assert failed["error_message"] == "2025-11-03: RuntimeError: disk full"


def test_a_database_error_is_recorded_without_its_sql_or_values(ledger, settings, monkeypatch):
    def failing_upsert(conn, table, rows, key, **options):
        raise sa.exc.OperationalError("INSERT INTO analytics_daily_users (secret_column) VALUES (%s)",
                                      {"secret_column": "secret-value-42"}, Exception(1205, "Lock wait timeout"))

    monkeypatch.setattr(core.materialize, "upsert", failing_upsert)
    with pytest.raises(EtlFailed):
        etl(ledger, settings, dates=[date(2025, 11, 2)])
    message = _runs(ledger)[-1]["error_message"]
    assert message.startswith("2025-11-02: database error")
    assert "INSERT" not in message and "secret" not in message


def test_a_run_left_running_by_a_dead_process_is_marked_failed(db, settings):
    with db.begin() as conn:
        conn.execute(analytics_etl_runs.insert().values(
            trigger="cli", status="running", dates_processed=3, started_at=datetime(2025, 11, 9, 22, 0)))
    etl(db, settings)
    dead, new = _runs(db)
    assert (dead["status"], dead["error_message"], dead["finished_at"]) == ("failed", runs.INTERRUPTED, NOW)
    assert new["status"] == "succeeded"


def test_the_cleanup_expires_ready_exports_past_their_expiry(db, settings):
    add_user(db, 1, role="admin")
    expired = add_export(db, 1, "ready", datetime(2020, 1, 1))
    fresh = add_export(db, 1, "ready", datetime(2999, 1, 1))
    preparing = add_export(db, 1, "preparing", datetime(2020, 1, 1))

    result, log = etl(db, settings, cleanup=partial(expire_exports, db, settings))

    assert result.expired_exports == 1 and "Cleaned up 1 expired export(s)" in log
    with db.connect() as conn:
        statuses = dict(conn.execute(sa.select(analytics_exports.c.id, analytics_exports.c.status)).all())
    assert statuses == {expired: "expired", fresh: "ready", preparing: "preparing"}


def test_a_failing_cleanup_fails_the_run_but_keeps_the_days(ledger, settings):
    def broken_cleanup():
        raise OSError("export dir unreadable")

    with pytest.raises(EtlFailed, match="expired-export cleanup: OSError"):
        etl(ledger, settings, dates=[date(2025, 11, 1)], cleanup=broken_cleanup)
    assert date(2025, 11, 1) in token_daily(ledger)
    assert (_runs(ledger)[-1]["status"], _runs(ledger)[-1]["dates_processed"]) == ("failed", 1)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_progress_line_is_drawn_on_a_terminal_only(ledger, settings):
    _, plain = etl(ledger, settings, dates=[date(2025, 11, 1), date(2025, 11, 2)])
    assert "days/s" not in plain and "\r" not in plain

    _, terminal = etl(ledger, settings, dates=[date(2025, 11, 1), date(2025, 11, 2)], out=_Terminal())
    assert "\r\x1b[K1/2 days (50%), " in terminal and "days/s, " in terminal and " left" in terminal
    assert "2/2 days (100%)" in terminal


def test_explicit_dates_are_exactly_the_range_and_never_today_or_later():
    assert requested_dates(date(2025, 11, 8), date(2025, 11, 9), TODAY, KOLKATA) == [
        date(2025, 11, 8), date(2025, 11, 9)]
    with pytest.raises(BusinessRuleViolation, match="2025-11-10 is today in Asia/Kolkata.*latest .* 2025-11-09"):
        requested_dates(date(2025, 11, 9), TODAY, TODAY, KOLKATA)
    with pytest.raises(BusinessRuleViolation, match="in the future"):
        requested_dates(date(2025, 11, 9), date(2025, 12, 1), TODAY, KOLKATA)
    with pytest.raises(BusinessRuleViolation, match="swap them"):
        requested_dates(date(2025, 11, 9), date(2025, 11, 8), TODAY, KOLKATA)
    with pytest.raises(ValidationError, match="not a real calendar day"):
        parse_date("2025-02-30", "--date")
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        parse_date("yesterday", "--date")

