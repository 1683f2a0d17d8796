"""The export API without a worker: validation, limits, records, ownership, listing, queue outage."""

from dataclasses import replace
from datetime import datetime, timedelta

import falcon.testing
import pytest
import sqlalchemy as sa

from core.config import load_settings
from core.dates import utc_now
from core.exports import formats
from core.tables import analytics_exports, users
from tests import factories as f
from tests.conftest import make_token
from tests.exports_support import EXPORTS, create
from web.app import create_app

RANGE = {"from": "2025-11-01", "to": "2025-11-08"}


@pytest.fixture
def admins(db, admin_headers):
    f.add_user(db, 2, role="admin")
    return db


def _post(client, headers, body):
    return client.simulate_post(EXPORTS, json=body, headers=headers)


def _error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json["error"]["code"] == code
    return response.json["error"]["message"]


@pytest.mark.parametrize("body, fragment", [
    ([], "JSON object"),
    ("transactions", "JSON object"),
    ({"type": "xls", "dataset": "transactions", "filters": RANGE}, "type must be one of csv, json, jsonl, parquet, xlsx"),
    ({"type": "parquet", "dataset": "users", "compression": "gzip"}, "parquet files are compressed inside already"),
    ({"type": "xlsx", "dataset": "users", "compression": "gzip"}, "xlsx files are compressed inside already"),
    ({"dataset": "users", "compression": "zip"}, "compression must be one of none, gzip"),
    ({"dataset": "users", "compression": None}, "compression must be one of none, gzip"),
    ({"type": "json", "dataset": "users", "excel": True}, "excel (a UTF-8 byte order mark for Excel) is for csv only"),
    ({"dataset": "users", "excel": "yes"}, "excel must be true or false"),
    ({"dataset": "ledger", "filters": RANGE}, "dataset must be one of"),
    ({"filters": RANGE}, "dataset must be one of"),
    ({"dataset": "transactions", "filters": RANGE, "format": "csv"}, "Unknown field(s) format"),
    ({"dataset": "transactions", "filters": []}, "filters must be a JSON object"),
    ({"dataset": "transactions", "filters": {**RANGE, "status": "paid"}}, "Unknown filter(s) status"),
    ({"dataset": "transactions", "filters": {**RANGE, "direction": "sideways"}}, "direction must be one of"),
    ({"dataset": "transactions", "filters": {**RANGE, "token_type": "gold"}}, "token_type must be one of"),
    ({"dataset": "purchases", "filters": {**RANGE, "provider": "paypal"}}, "provider must be one of"),
    ({"dataset": "purchases", "filters": {**RANGE, "status": "PAID"}}, "status must be one of"),
    ({"dataset": "referrals", "filters": {**RANGE, "status": "done"}}, "status must be one of"),
    ({"dataset": "authorizations", "filters": {**RANGE, "status": "open"}}, "status must be one of"),
    ({"dataset": "users", "filters": {"role": "root"}}, "role must be one of"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": "abc"}}, "user_id must be a positive integer"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": 0}}, "user_id must be a positive integer"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": "\u00b2"}}, "user_id must be a positive integer"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": 2**63}}, "user_id must be a positive integer"),
    ({"dataset": "transactions", "filters": {**RANGE, "reason": ""}}, "reason must be a non-empty string"),
    ({"dataset": "transactions", "filters": {"from": "2025/11/01", "to": "2025-11-08"}}, "YYYY-MM-DD"),
    ({"dataset": "transactions", "filters": {"from": "2025-02-30", "to": "2025-03-08"}}, "not a real calendar day"),
    ({"dataset": "transactions", "filters": {}}, "from and to date parameters are required"),
    ({"dataset": "transactions", "filters": {"from": "0001-01-01", "to": "0001-01-02"}}, "between 1970-01-01"),
    ({"dataset": "users", "filters": {"from": "9999-12-31", "to": "9999-12-31"}}, "between 1970-01-01"),
    ({"dataset": "purchases", "filters": {"from": "2025-11-01"}}, "from and to date parameters are required"),
    ({"dataset": "users", "filters": {"from": "2025-11-01"}}, "from and to must be given together"),
    ({"dataset": "users", "columns": []}, "non-empty list"),
    ({"dataset": "users", "columns": ["id", "password"]}, "Unknown column(s) password"),
    ({"dataset": "users", "columns": ["id", "id"]}, "must not repeat"),
    # What the OpenAPI document refuses, the API refuses (schemathesis checks both ways).
    ({"dataset": "users", "columns": None}, "leave it out for all of them"),
    ({"dataset": "users", "filters": {"role": None}}, "role must be one of"),
    ({"dataset": "users", "filters": {"from": None, "to": "2025-11-01"}}, "from and to must be given together"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": "007"}}, "user_id must be a positive integer"),
    ({"dataset": "transactions", "filters": {**RANGE, "user_id": "1" * 19}}, "user_id must be a positive integer"),
])
def test_invalid_requests_are_400(client, admin_headers, admins, body, fragment):
    assert fragment in _error(_post(client, admin_headers, body), 400, "validation_error")


@pytest.mark.parametrize("user_id", [7, "7", 7.0])
def test_a_user_id_is_a_json_integer_or_its_canonical_text(client, admin_headers, admins, user_id):
    response = _post(client, admin_headers, {"dataset": "transactions", "filters": {**RANGE, "user_id": user_id}})
    assert response.status_code == 201, response.text
    assert response.json["filters"]["user_id"] == 7


@pytest.mark.parametrize("raw", ["", "{not json", "null"])
def test_a_body_that_is_not_a_json_object_is_400(client, admin_headers, admins, raw):
    response = client.simulate_post(EXPORTS, body=raw, headers={**admin_headers, "Content-Type": "application/json"})
    _error(response, 400, "validation_error")


@pytest.mark.parametrize("filters, fragment", [
    ({"from": "2025-01-01", "to": "2026-01-02"}, "cannot exceed 365 days"),
    ({"from": "2025-11-08", "to": "2025-11-01"}, "must not be after"),
])
def test_bad_ranges_are_422(client, admin_headers, admins, filters, fragment):
    response = _post(client, admin_headers, {"dataset": "transactions", "filters": filters})
    assert fragment in _error(response, 422, "business_rule_violation")


def test_a_full_year_is_allowed(client, admin_headers, admins):
    assert _post(client, admin_headers, {"dataset": "transactions",
                                         "filters": {"from": "2025-01-01", "to": "2026-01-01"}}).status_code == 201


@pytest.fixture
def row_limit_of_2(env):
    env["EXPORT_MAX_ROWS"] = "2"  # EXPORT_MAX_ROWS, as an operator sets it


def test_too_many_rows_is_422_and_records_nothing(row_limit_of_2, client, admin_headers, admins):
    for user_id in (3, 4, 5):
        f.add_user(admins, user_id)
    message = _error(_post(client, admin_headers, {"dataset": "users"}), 422, "business_rule_violation")
    assert "5 rows" in message and "narrow the filters" in message
    assert _post(client, admin_headers, {"dataset": "users", "filters": {"role": "admin"}}).status_code == 201
    with admins.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_exports)).scalar() == 1


def test_xlsx_past_a_sheet_is_422_up_front(client, admin_headers, admins, monkeypatch):
    monkeypatch.setitem(formats.FORMATS, "xlsx", replace(formats.FORMATS["xlsx"], max_rows=1))
    message = _error(_post(client, admin_headers, {"type": "xlsx", "dataset": "users"}), 422,
                     "business_rule_violation")
    assert message.startswith("This export would have 2 rows, more than an Excel sheet holds (1 besides its header)")
    assert _post(client, admin_headers, {"type": "parquet", "dataset": "users"}).status_code == 201


def test_create_answers_201_with_location_and_the_preparing_body(client, admin_headers, admins):
    f.add_transaction(admins, 1, "2025-11-02 10:00:00", direction="debit")
    f.add_transaction(admins, 1, "2025-11-02 11:00:00", direction="credit")
    response = _post(client, admin_headers, {"type": "csv", "dataset": "transactions",
                                             "filters": {**RANGE, "direction": "debit", "user_id": "1"}})
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"{EXPORTS}/{body['export_id']}"
    assert response.headers["Retry-After"] == "2"
    assert {k: body[k] for k in ("status", "type", "dataset", "filters", "columns", "estimated_rows",
                                 "rows_written")} == {
        "status": "preparing", "type": "csv", "dataset": "transactions",
        "filters": {**RANGE, "direction": "debit", "user_id": 1}, "columns": None, "estimated_rows": 1,
        "rows_written": 0,
    }
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(hours=5, minutes=30)
    assert "download_url" not in body and "error_message" not in body


def test_status_while_preparing_has_retry_after(client, admin_headers, admins):
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    response = client.simulate_get(f"{EXPORTS}/{export_id}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["status"] == "preparing" and response.json["rows_written"] == 0
    assert response.headers["Retry-After"] == "2"


def test_export_ids_are_checked(client, admin_headers, admins):
    message = _error(client.simulate_get(f"{EXPORTS}/not-a-ulid", headers=admin_headers), 400, "validation_error")
    assert "ULID" in message
    response = client.simulate_get(f"{EXPORTS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=admin_headers)
    assert _error(response, 404, "not_found") == "Export not found"


def test_an_admin_sees_only_their_own_exports(client, admin_headers, admins):
    mine = create(client, admin_headers, {"dataset": "users"})["export_id"]
    other_headers = {"Authorization": f"Bearer {make_token(sub='2')}"}
    theirs = create(client, other_headers, {"dataset": "users"})["export_id"]
    assert _error(client.simulate_get(f"{EXPORTS}/{theirs}", headers=admin_headers), 404, "not_found") \
        == "Export not found"
    listed = client.simulate_get(EXPORTS, headers=admin_headers).json
    assert [item["export_id"] for item in listed["exports"]] == [mine]


def test_the_list_is_newest_first_and_paginated(client, admin_headers, admins):
    created = []
    for export_type, role in [("csv", "user"), ("csv", "admin"), ("csv", "service"), ("json", "user"), ("json", "admin")]:
        created.append(create(client, admin_headers, {"dataset": "users", "type": export_type,
                                                      "filters": {"role": role}})["export_id"])
        with admins.begin() as conn:  # done, so the next is neither an equal one nor over the cap
            conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == created[-1])
                         .values(status="failed", error_message="x", completed_at=utc_now()))
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.simulate_get(EXPORTS, params=params, headers=admin_headers).json
        assert len(page["exports"]) <= 2
        seen += [item["export_id"] for item in page["exports"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(created, reverse=True)
    assert set(seen) == set(created)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"limit": "\u00b2"},
                                    {"cursor": "../etc"}, {"cursor": ""}, {"limit": ""}, {"page": "2"}])
def test_bad_list_parameters_are_400(client, admin_headers, admins, params):
    _error(client.simulate_get(EXPORTS, params=params, headers=admin_headers), 400, "validation_error")


def test_export_routes_need_an_admin_token(client, admins):
    assert client.simulate_post(EXPORTS, json={"dataset": "users"}).status_code == 401
    assert client.simulate_get(EXPORTS).status_code == 401


def test_redis_down_is_503_and_the_export_is_failed_not_stuck(admins, env, admin_headers):
    settings = load_settings({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, needs_jwt_secret=True)
    client = falcon.testing.TestClient(create_app(settings))
    message = _error(_post(client, admin_headers, {"dataset": "users"}), 503, "service_unavailable")
    assert "try again" in message
    with admins.connect() as conn:
        row = conn.execute(sa.select(analytics_exports)).one()
    assert row.status == "failed" and "queue" in row.error_message
    listed = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"]
    assert listed[0]["status"] == "failed" and listed[0]["error_message"] == row.error_message


def test_an_export_preparing_too_long_reads_as_timed_out(client, admin_headers, admins):
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    with admins.begin() as conn:
        conn.execute(sa.update(analytics_exports).values(created_at=utc_now() - timedelta(minutes=16)))
    body = client.simulate_get(f"{EXPORTS}/{export_id}", headers=admin_headers).json
    assert body["status"] == "failed" and body["error_message"].startswith("Timed out")


def test_the_list_applies_the_stuck_rule_too(client, admin_headers, admins):
    export_id = create(client, admin_headers, {"dataset": "users"})["export_id"]
    with admins.begin() as conn:
        conn.execute(sa.update(analytics_exports).values(created_at=utc_now() - timedelta(minutes=16)))
    [listed] = client.simulate_get(EXPORTS, headers=admin_headers).json["exports"]
    assert (listed["export_id"], listed["status"]) == (export_id, "failed")
    assert listed["error_message"].startswith("Timed out")


def test_an_admin_deleted_while_their_check_is_kept_gets_401_on_create(client, admin_headers, admins):
    assert client.simulate_get(EXPORTS, headers=admin_headers).status_code == 200  # the check is now kept
    with admins.begin() as conn:
        conn.execute(sa.delete(users).where(users.c.id == 1))
    response = client.simulate_post(EXPORTS, json={"dataset": "users"}, headers=admin_headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


USERS = {"dataset": "users"}


@pytest.fixture
def sent():
    return []


@pytest.fixture
def api(settings, sent):
    """The app with a queue that only records what it was sent."""
    return falcon.testing.TestClient(create_app(settings, enqueue_export=sent.append, enqueue_etl=lambda _: None))


def test_the_same_export_asked_again_is_the_same_export(api, admin_headers, admins, sent):
    first = _post(api, admin_headers, USERS)
    again = _post(api, admin_headers, {"dataset": "users", "type": "csv", "filters": {}})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["export_id"] == first.json["export_id"]
    assert again.headers["location"] == first.headers["location"]
    assert sent == [first.json["export_id"]]  # one job
    other = _post(api, admin_headers, {"dataset": "users", "type": "json"})
    assert other.status_code == 201 and other.json["export_id"] != first.json["export_id"]


def test_two_equal_requests_at_once_make_one_export(api, admin_headers, admins, sent):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: _post(api, admin_headers, USERS), range(2)))
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert len({answer.json["export_id"] for answer in answers}) == 1 and len(sent) == 1


def test_an_idempotency_key_returns_the_export_it_made_and_refuses_another_request(api, admin_headers, admins,
                                                                                    sent):
    keyed = {**admin_headers, "Idempotency-Key": "order-7f3a"}
    first = api.simulate_post(EXPORTS, json=USERS, headers=keyed)
    with admins.begin() as conn:  # even once it is no longer an equal export in progress
        conn.execute(sa.update(analytics_exports).values(status="failed", error_message="x"))
    again = api.simulate_post(EXPORTS, json=USERS, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["export_id"] == first.json["export_id"] and again.json["status"] == "failed"
    message = _error(api.simulate_post(EXPORTS, json={"dataset": "users", "type": "json"}, headers=keyed),
                     422, "business_rule_violation")
    assert "Idempotency-Key" in message
    _error(api.simulate_post(EXPORTS, json=USERS, headers={**admin_headers, "Idempotency-Key": "x" * 256}),
           400, "validation_error")


def test_more_exports_preparing_than_allowed_is_429_until_one_is_done(api, admin_headers, admins, sent):
    for export_type in ("csv", "json"):
        for role in ("user", "admin"):
            body = {"dataset": "users", "type": export_type, "filters": {"role": role}}
            if len(sent) < 3:
                assert _post(api, admin_headers, body).status_code == 201
    refused = _post(api, admin_headers, {"dataset": "users", "filters": {"role": "service"}})
    assert "3 exports preparing" in _error(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) > 0
    with admins.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == sent[0])
                     .values(status="failed", error_message="x", completed_at=utc_now()))
    assert _post(api, admin_headers, {"dataset": "users", "filters": {"role": "service"}}).status_code == 201
