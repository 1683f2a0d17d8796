from datetime import date, datetime, timedelta

from core.dates import local_today
from core.etl.job import fold_in
from core.etl.status import etl_status
from core.tables import analytics_etl_runs
from tests.etl_helpers import KOLKATA, NOW, etl
from tests.factories import add_ledger, add_user

STATUS = "/api/v1/admin/analytics/status"


def test_materialized_through_stops_before_the_first_gap(db, settings):
    add_user(db, 1)
    add_ledger(db, 1, "credit", 10, "2025-11-01 06:00:00")
    etl(db, settings, dates=[date(2025, 11, day) for day in (1, 2, 3, 5, 6)])

    status = etl_status(db, KOLKATA, NOW)

    assert status.earliest_ledger_day == date(2025, 11, 1)
    assert status.materialized_through == date(2025, 11, 3)
    assert status.latest_materialized_day == date(2025, 11, 6)
    assert status.missing_days == 4  # the 4th, 7th, 8th and 9th
    assert status.last_run.status == status.last_success.status == "succeeded"

    etl(db, settings)
    status = etl_status(db, KOLKATA, NOW)
    assert (status.materialized_through, status.missing_days) == (date(2025, 11, 9), 0)


def test_nothing_is_materialized_through_a_missing_first_day(db, settings):
    add_user(db, 1)
    add_ledger(db, 1, "credit", 10, "2025-11-01 06:00:00")
    etl(db, settings, dates=[date(2025, 11, 2)])
    status = etl_status(db, KOLKATA, NOW)
    assert (status.materialized_through, status.latest_materialized_day, status.missing_days) == (
        None, date(2025, 11, 2), 8)


def test_the_status_route_tells_an_admin_how_far_the_data_reaches(db, settings, client, admin_headers):
    today = local_today(KOLKATA)
    yesterday = today - timedelta(days=1)
    add_ledger(db, 1, "credit", 10, f"{yesterday - timedelta(days=2)} 06:00:00")
    etl(db, settings, dates=[yesterday - timedelta(days=2)])
    with db.begin() as conn:
        conn.execute(analytics_etl_runs.insert().values(
            trigger="scheduler", status="failed", first_date=yesterday, last_date=yesterday,
            dates_processed=0, error_message="2025-11-09: OperationalError: gone away",
            started_at=datetime(2025, 11, 10, 21, 30), finished_at=datetime(2025, 11, 10, 21, 31)))

    response = client.simulate_get(STATUS, headers=admin_headers)

    assert response.status_code == 200
    assert response.json == {
        "timezone": "Asia/Kolkata",
        "earliest_ledger_date": str(yesterday - timedelta(days=2)),
        "materialized_through": str(yesterday - timedelta(days=2)),
        "latest_materialized_date": str(yesterday - timedelta(days=2)),
        "missing_dates": 2,
        "pending_changed_dates": [], "pending_changes": 0, "oldest_pending_change_age_seconds": None,
        "last_fold_in_at": None,
        "last_run": {
            "id": response.json["last_run"]["id"], "trigger": "scheduler", "status": "failed", "queued_at": None,
            "started_at": "2025-11-11T03:00:00+05:30", "finished_at": "2025-11-11T03:01:00+05:30",
            "first_date": str(yesterday), "last_date": str(yesterday), "dates_processed": 0,
            "error_message": "2025-11-09: OperationalError: gone away",
        },
        "last_success_at": "2025-11-10T11:30:00+05:30",  # NOW, the clock of `etl`
    }


def test_the_status_route_on_an_empty_database_and_without_a_token(db, client, admin_headers):
    response = client.simulate_get(STATUS, headers=admin_headers)
    assert response.json == {
        "timezone": "Asia/Kolkata", "earliest_ledger_date": None, "materialized_through": None,
        "latest_materialized_date": None, "missing_dates": 0, "pending_changed_dates": [], "pending_changes": 0,
        "oldest_pending_change_age_seconds": None, "last_fold_in_at": None, "last_run": None, "last_success_at": None,
    }
    unauthorized = client.simulate_get(STATUS)
    assert unauthorized.status_code == 401 and unauthorized.json["error"]["code"] == "unauthorized"


def test_the_status_route_shows_changes_not_folded_in_yet(db, settings, client, admin_headers):
    today = local_today(KOLKATA)
    day = today - timedelta(days=40)
    add_ledger(db, 1, "credit", 10, f"{day} 06:00:00")
    etl(db, settings, dates=[day])
    add_ledger(db, 1, "credit", 100_000, f"{day} 07:00:00", reason="admin_adjustment")  # a late row

    pending = client.simulate_get(STATUS, headers=admin_headers).json
    assert pending["pending_changed_dates"] == [str(day)]
    assert pending["pending_changes"] == 1
    assert 0 <= pending["oldest_pending_change_age_seconds"] < 60

    fold_in(db, settings)
    folded = client.simulate_get(STATUS, headers=admin_headers).json
    assert (folded["pending_changed_dates"], folded["pending_changes"]) == ([], 0)
    assert folded["last_fold_in_at"] is not None and folded["last_run"]["trigger"] == "fold-in"
