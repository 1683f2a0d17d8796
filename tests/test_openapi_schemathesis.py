"""schemathesis against the live WSGI app: no 500s, and every response as the OpenAPI document says."""

from datetime import date
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.exports import browse, records, state
from core.exports.datasets import TRANSACTIONS
from core.exports.generation import generate_export
from core.exports.links import link_of
from core.exports.validation import parse_request
from core.materialize import materialize_day
from core.tables import analytics_exports
from tests.factories import (
    add_campaign,
    add_ledger,
    add_purchase,
    add_referral,
    add_user,
)
from web import openapi
from web.app import create_app
from web.resources.exports import download_url

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance]
# Data the document calls valid may still break a rule across fields that JSON Schema cannot say
# (`from` after `to`, over 365 days, too many rows): 422, documented on the routes that have it.
# Anything else refused (400) means the document and the validation disagree.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}}})
# Random dates are mostly years apart (422); this range gets answers with data in them.
RANGE_WITH_DATA = {"from": "2025-10-30", "to": "2025-11-04"}
OPERATIONS = sorted((path, method.upper()) for path, item in openapi.PATHS.items() for method in item)
EXPORTS = f"{openapi.API}/exports"
DOWNLOAD = f"{openapi.DOWNLOAD_PATH}/{{file_name}}"
TRANSACTIONS_PATH = f"{openapi.API}/transactions"
ADMIN_USER_ID = 1  # the `sub` of admin_headers


def _seed(engine):
    add_user(engine, 2)  # user 1 is the admin of `admin_headers`
    add_campaign(engine, "diwali")
    add_ledger(engine, 1, "credit", 500, "2025-11-01 06:00:00")
    add_ledger(engine, 2, "debit", 200, "2025-11-02 06:00:00", token_type="promo", reason="chapter_generation")
    add_purchase(engine, 1, "2025-11-01 06:00:00", tokens=500, amount_inr="49.50")
    add_referral(engine, 1, 2, "2025-11-01 06:00:00", campaign_id="diwali")
    materialize_day(engine, date(2025, 11, 1), ZoneInfo("Asia/Kolkata"))


def _export(engine, settings, body: dict) -> dict:
    with engine.begin() as conn:
        record, _ = records.create_export(conn, settings, ADMIN_USER_ID, parse_request(body))
        return record


def _ready_export(engine, settings, export_type: str = "csv") -> dict:
    """An export written the way the worker writes it, with its real signed link."""
    export_id = _export(engine, settings, {"type": export_type, "dataset": "users"})["id"]
    generate_export(engine, settings, export_id)
    with engine.connect() as conn:
        record = state.load(conn, export_id)
    assert record["status"] == "ready", record
    return record


def _seed_exports(engine, settings) -> list[str]:
    """The caller's exports in every status, so the list and status routes answer each shape."""
    ready = _ready_export(engine, settings)["id"]
    preparing = _export(engine, settings, {"dataset": "transactions", "filters": RANGE_WITH_DATA,
                                           "columns": ["id", "amount"]})["id"]
    failed = _export(engine, settings, {"type": "json", "dataset": "users"})["id"]
    with engine.begin() as conn:
        records.fail_export(conn, settings, failed, "Export failed (OperationalError); quote the export id when reporting it")
    expired = _ready_export(engine, settings, "json")["id"]
    with engine.begin() as conn:
        conn.execute(sa.update(analytics_exports).where(analytics_exports.c.id == expired)
                     .values(status="expired"))
    return [ready, preparing, failed, expired]


def _link(settings, record: dict) -> tuple[dict, dict]:
    """(path parameters, query) of an export's signed download link."""
    parts = urlsplit(download_url(link_of(settings, record)))
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return {"file_name": parts.path.rsplit("/", 1)[1]}, query


def _transaction_cursor(engine, settings) -> str:
    """A real `next_cursor` of the drill-down over the seeded range."""
    request = browse.parse_page_request(TRANSACTIONS, {**RANGE_WITH_DATA, "limit": "1"})
    with engine.connect() as conn:
        _, cursor = browse.read_page(conn, TRANSACTIONS, request, settings.report_timezone)
    assert cursor is not None
    return cursor


def _no_queue(export_id: str) -> None:
    """Created exports stay `preparing`: enough for the document, and nothing piles up in Redis."""


def _cases(operation, path: str, export_ids: list[str], cursor: str):
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.body:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    if path.startswith(openapi.API) and any(p.name == "from" for p in operation.query):
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, query=RANGE_WITH_DATA))
    if path == f"{EXPORTS}/{{export_id}}":
        strategies.append(st.sampled_from(export_ids).flatmap(
            lambda export_id: operation.as_strategy(path_parameters={"export_id": export_id})))
    if path == EXPORTS and operation.method.upper() == "GET":
        strategies.append(st.sampled_from(export_ids).flatmap(
            lambda cursor: operation.as_strategy(query={"cursor": cursor, "limit": 2})))
    if path == TRANSACTIONS_PATH:
        strategies.append(operation.as_strategy(query={**RANGE_WITH_DATA, "limit": 1, "cursor": cursor}))
    if path == EXPORTS and operation.method.upper() == "POST":
        strategies.append(operation.as_strategy(body={"type": "json", "dataset": "transactions",
                                                      "filters": RANGE_WITH_DATA}))
    return st.one_of(strategies)


@pytest.mark.parametrize("path, method", OPERATIONS)
def test_every_operation_keeps_to_the_document(db, settings, admin_headers, path, method):
    _seed(db)
    export_ids = _seed_exports(db, settings)
    cursor = _transaction_cursor(db, settings)
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, create_app(settings, enqueue_export=_no_queue),
                                            config=CONFIG)
    operation = schema[path][method]

    @hypothesis_settings(max_examples=30, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.filter_too_much])
    @given(case=_cases(operation, path, export_ids, cursor))
    def exercise(case):
        case.call_and_validate(headers=admin_headers, checks=CHECKS)

    exercise()


@pytest.mark.parametrize("export_type, content_type", [
    ("csv", "text/csv"), ("json", "application/json"), ("jsonl", "application/jsonl"),
    ("parquet", "application/vnd.apache.parquet"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
def test_a_real_signed_link_downloads_as_documented(db, settings, export_type, content_type):
    add_user(db, ADMIN_USER_ID, role="admin")
    path_parameters, query = _link(settings, _ready_export(db, settings, export_type))
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, create_app(settings, enqueue_export=_no_queue),
                                            config=CONFIG)
    case = schema[DOWNLOAD]["GET"].Case(path_parameters=path_parameters, query=query)
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 200
    assert response.headers["content-type"][0].startswith(content_type)


@pytest.mark.parametrize("method, headers, status", [
    ("GET", {"Range": "bytes=0-9"}, 206),
    ("GET", {"Range": "bytes=-5", "If-Range": '"another"'}, 200),
    ("GET", {"Range": "bytes=99999999-"}, 416),
    ("HEAD", {}, 200),
    ("HEAD", {"Range": "bytes=3-"}, 206),
])
def test_head_and_ranges_of_a_real_link_are_as_documented(db, settings, method, headers, status):
    add_user(db, ADMIN_USER_ID, role="admin")
    path_parameters, query = _link(settings, _ready_export(db, settings))
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, create_app(settings, enqueue_export=_no_queue),
                                            config=CONFIG)
    case = schema[DOWNLOAD][method].Case(path_parameters=path_parameters, query=query, headers=headers)
    assert case.call_and_validate(checks=CHECKS).status_code == status


def test_an_export_with_notifications_and_downloads_is_as_documented(db, settings, admin_headers):
    from core.dates import utc_now
    from core.tables import analytics_export_downloads, analytics_export_events, analytics_export_webhook_attempts

    record = _ready_export(db, settings)
    now = utc_now()
    with db.begin() as conn:
        conn.execute(sa.insert(analytics_export_events).values(
            id="evt_01KA0000000000000000000000", export_id=record["id"], type="export.ready", body="{}",
            created_at=now))
        conn.execute(sa.insert(analytics_export_webhook_attempts), [
            {"event_id": "evt_01KA0000000000000000000000", "attempt": 1, "status_code": None, "error": "timeout",
             "attempted_at": now, "delivered": False},
            {"event_id": "evt_01KA0000000000000000000000", "attempt": 2, "status_code": 204, "error": None,
             "attempted_at": now, "delivered": True}])
        conn.execute(sa.insert(analytics_export_downloads), [
            {"export_id": record["id"], "user_id": ADMIN_USER_ID, "downloaded_at": now, "client_address": "192.0.2.1",
             "user_agent": "curl/8", "bytes_sent": 10, "status": 206, "range": "bytes=0-9"},
            {"export_id": record["id"], "user_id": ADMIN_USER_ID, "downloaded_at": now, "client_address": None,
             "user_agent": None, "bytes_sent": None, "status": 302, "range": None}])
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, create_app(settings, enqueue_export=_no_queue),
                                            config=CONFIG)
    one = schema[f"{EXPORTS}/{{export_id}}"]["GET"].Case(path_parameters={"export_id": record["id"]})
    body = one.call_and_validate(headers=admin_headers, checks=CHECKS).json()
    assert len(body["notifications"]) == 2 and body["download_count"] == 2
    listed = schema[EXPORTS]["GET"].Case(query={})
    assert len(listed.call_and_validate(headers=admin_headers, checks=CHECKS).json()["exports"][0]["notifications"]) == 2
