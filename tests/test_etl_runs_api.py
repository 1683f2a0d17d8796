"""ETL runs through the API: queue, join, list, read, the queue's outage, and a real worker running one."""

import time
from datetime import timedelta

import falcon.testing
import pytest

from core.dates import local_today, utc_now
from core.errors import ServiceUnavailable
from core.etl import runs
from core.etl.requests import queue_etl
from tests import factories as f
from tests.etl_helpers import KOLKATA, token_daily
from web.app import create_app

RUNS = "/api/v1/admin/analytics/etl-runs"
YESTERDAY = local_today(KOLKATA) - timedelta(days=1)


@pytest.fixture
def sent(settings):
    return []


@pytest.fixture
def api(settings, sent):
    return falcon.testing.TestClient(create_app(settings, enqueue_export=lambda _: None, enqueue_etl=sent.append))


def _day(offset: int) -> str:
    return str(YESTERDAY - timedelta(days=offset))


def test_a_run_is_queued_with_its_location_and_sent_to_a_worker_once(db, api, admin_headers, sent):
    response = api.simulate_post(RUNS, json={"from": _day(3), "to": _day(1)}, headers=admin_headers)

    assert response.status_code == 202, response.text
    run = response.json
    assert response.headers["location"] == f"{RUNS}/{run['id']}"
    assert (run["status"], run["trigger"], run["first_date"], run["last_date"]) == ("queued", "api", _day(3), _day(1))
    assert run["started_at"] is None and run["queued_at"] is not None
    assert sent == [run["id"]]

    # A second request while the first waits joins it: the range grows, nothing more is sent.
    joined = api.simulate_post(RUNS, json={"date": _day(6)}, headers=admin_headers)
    assert joined.status_code == 202
    assert joined.json["id"] == run["id"]
    assert (joined.json["first_date"], joined.json["last_date"]) == (_day(6), _day(1))
    assert sent == [run["id"]]

    read = api.simulate_get(f"{RUNS}/{run['id']}", headers=admin_headers)
    assert read.status_code == 200 and read.json == joined.json and read.headers["retry-after"] == "5"
    listed = api.simulate_get(RUNS, headers=admin_headers, params={"limit": "1"})
    assert listed.json == {"runs": [joined.json], "next_cursor": None}


@pytest.mark.parametrize("body, status, fragment", [
    ([], 400, "JSON object"),
    ({"date": _day(1), "from": _day(2)}, 400, "date names one day"),
    ({"from": _day(2)}, 400, "go together"),
    ({"day": _day(1)}, 400, "unknown field 'day'"),
    ({"date": "2025-02-30"}, 400, "not a real calendar day"),
    ({"from": _day(1), "to": _day(2)}, 422, "after it ends"),
    ({"date": str(local_today(KOLKATA))}, 422, "only once it has ended"),
])
def test_bad_requests_get_the_clis_errors(db, api, admin_headers, sent, body, status, fragment):
    response = api.simulate_post(RUNS, json=body, headers=admin_headers)
    assert response.status_code == status, response.text
    assert fragment in response.json["error"]["message"]
    assert sent == []


def test_runs_are_listed_newest_first_in_pages(db, api, admin_headers, settings):
    now = utc_now()
    ids = []
    for _ in range(3):
        run, _ = queue_etl(db, KOLKATA, YESTERDAY, YESTERDAY, trigger="api", now=now, send=lambda _: None)
        ids.append(run.id)
        runs.start_run(db, "api", [YESTERDAY], now, run.id)  # no longer queued: the next one is new

    first = api.simulate_get(RUNS, headers=admin_headers, params={"limit": "2"}).json
    assert [run["id"] for run in first["runs"]] == ids[:0:-1]
    second = api.simulate_get(RUNS, headers=admin_headers, params={"cursor": first["next_cursor"]}).json
    assert [run["id"] for run in second["runs"]] == [ids[0]] and second["next_cursor"] is None
    assert api.simulate_get(RUNS, headers=admin_headers, params={"limit": "0"}).status_code == 400
    assert api.simulate_get(f"{RUNS}/999999", headers=admin_headers).status_code == 404
    assert api.simulate_get(f"{RUNS}/abc", headers=admin_headers).status_code == 400


def test_a_queue_outage_is_503_and_the_run_is_recorded_failed(db, settings, admin_headers):

    def unreachable(_run_id):
        raise ServiceUnavailable("The ETL queue is unavailable (ConnectionError); try again in a minute")

    client = falcon.testing.TestClient(create_app(settings, enqueue_export=lambda _: None, enqueue_etl=unreachable))
    response = client.simulate_post(RUNS, json={"date": _day(1)}, headers=admin_headers)
    assert response.status_code == 503
    [run] = client.simulate_get(RUNS, headers=admin_headers).json["runs"]
    assert run["status"] == "failed" and "could not be queued" in run["error_message"]


def test_a_real_worker_runs_a_queued_run(db, settings, client, admin_headers, worker):
    f.add_ledger(db, 1, "credit", 70, f"{_day(2)} 06:00:00")

    response = client.simulate_post(RUNS, json={"from": _day(2), "to": _day(1)}, headers=admin_headers)
    assert response.status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = client.simulate_get(response.headers["location"], headers=admin_headers).json
        if run["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert (run["status"], run["dates_processed"], run["trigger"]) == ("succeeded", 2, "api")
    assert token_daily(db)[YESTERDAY - timedelta(days=2)]["credited"] == 70
