"""GET /api/v1/admin/analytics/transactions: the transactions export's filters as query parameters,
its rows a page at a time, on MariaDB and SQLite."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.exports import records
from core.exports.datasets import TRANSACTIONS
from core.exports.generation import generate_export
from core.exports.validation import parse_request
from core.materialize import materialize_day
from core.tables import analytics_exports, users, wallet_ledger
from tests import factories as f
from tests.factories import empty_tables, forget_changes

ROUTE = "/api/v1/admin/analytics/transactions"
RANGE = {"from": "2025-11-01", "to": "2025-11-08"}
KOLKATA = ZoneInfo("Asia/Kolkata")


def _get(client, headers, **params):
    return client.simulate_get(ROUTE, params=params, headers=headers)


def _page(client, headers, **params) -> dict:
    response = _get(client, headers, **params)
    assert response.status_code == 200, response.text
    return response.json


def _all_pages(client, headers, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        body = _page(client, headers, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(body["transactions"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.fixture
def ledger(db, admin_headers):
    """Users 2 and 3 and a week of their transactions, some at the same instant."""
    for user_id in (2, 3):
        f.add_user(db, user_id)
    same_instant = "2025-11-03 10:00:00"
    return [
        f.add_transaction(db, 2, "2025-10-31 18:29:59", reason="before_the_range"),  # 2025-10-31 in Kolkata
        f.add_transaction(db, 2, "2025-10-31 18:30:00", direction="credit", reason="purchase", amount=500,
                          metadata={"order": "A-1", "note": "first"}, reference_id="pay_1"),
        f.add_transaction(db, 3, same_instant, token_type="promo", reason="referral_bonus", direction="credit"),
        f.add_transaction(db, 2, same_instant, reason="chapter_generation"),
        f.add_transaction(db, 3, same_instant, reason="Chapter_Generation"),
        f.add_transaction(db, 2, "2025-11-08 18:29:59", reason="chapter_generation", amount=70),
        f.add_transaction(db, 2, "2025-11-08 18:30:00", reason="after_the_range"),  # 2025-11-09 in Kolkata
    ]


def test_a_page_holds_the_rows_of_the_json_export_with_the_same_filters(db, settings, client, admin_headers, ledger):
    body = _page(client, admin_headers, **RANGE)
    with db.begin() as conn:
        record, _ = records.create_export(conn, settings, 1, parse_request(
            {"type": "json", "dataset": "transactions", "filters": RANGE}))
    generate_export(db, settings, record["id"])
    exported = orjson.loads((settings.export_dir / f"{record['id']}.json").read_bytes())
    assert body == {"transactions": exported, "next_cursor": None}
    assert [row["id"] for row in body["transactions"]] == ledger[1:6]  # the ties at one instant by id
    first = body["transactions"][0]
    assert first["occurred_at"] == "2025-11-01T00:00:00+05:30"
    assert first["metadata"] == {"order": "A-1", "note": "first"}
    assert list(first) == list(TRANSACTIONS.columns)


@pytest.mark.parametrize("filters, expected", [
    ({"user_id": "3"}, [2, 4]),
    ({"direction": "credit"}, [1, 2]),
    ({"token_type": "promo"}, [2]),
    ({"reason": "chapter_generation", "user_id": "2"}, [3, 5]),
])
def test_filters_mean_what_the_exports_mean(client, admin_headers, ledger, filters, expected):
    rows = _page(client, admin_headers, **RANGE, **filters)["transactions"]
    assert {row["id"] for row in rows} == {ledger[i] for i in expected}


def test_pages_follow_the_cursor_and_the_last_has_none(client, admin_headers, ledger):
    pages = _all_pages(client, admin_headers, **RANGE, limit="2")
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [row["id"] for page in pages for row in page] == [
        row["id"] for row in _page(client, admin_headers, **RANGE)["transactions"]]


def test_rows_added_before_the_cursor_do_not_shift_the_next_page(db, client, admin_headers, ledger):
    first = _page(client, admin_headers, **RANGE, limit="2")
    second = _page(client, admin_headers, **RANGE, limit="2", cursor=first["next_cursor"])
    f.add_transaction(db, 2, "2025-11-01 00:00:00", reason="late_row")
    assert _page(client, admin_headers, **RANGE, limit="2", cursor=first["next_cursor"]) == second


def test_the_default_page_is_fifty_rows(db, client, admin_headers):
    f.add_user(db, 2)
    with db.begin() as conn:
        conn.execute(sa.insert(wallet_ledger), [
            {"id": f"01PAGE{n:020d}", "user_id": 2, "token_type": "regular", "direction": "debit",
             "reason": "chapter_generation", "amount": 1, "occurred_at": datetime(2025, 11, 2) + timedelta(minutes=n)}
            for n in range(51)])
    body = _page(client, admin_headers, **RANGE)
    assert len(body["transactions"]) == 50 and body["next_cursor"] is not None
    rest = _page(client, admin_headers, **RANGE, cursor=body["next_cursor"])
    assert [row["id"] for row in rest["transactions"]] == [f"01PAGE{50:020d}"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("params, status, fragment", [
    ({}, 400, "from and to date parameters are required"),
    ({"from": "2025-11-01"}, 400, "from and to date parameters are required"),
    ({**RANGE, "feature": "x"}, 400, "Unknown query parameter(s): feature"),
    ({**RANGE, "columns": "id"}, 400, "Unknown query parameter(s): columns"),
    ({**RANGE, "direction": "sideways"}, 400, "direction must be one of credit, debit"),
    ({**RANGE, "token_type": "gold"}, 400, "token_type must be one of"),
    ({**RANGE, "user_id": "007"}, 400, "user_id must be a positive integer"),
    ({**RANGE, "user_id": "0"}, 400, "user_id must be a positive integer"),
    ({**RANGE, "reason": ""}, 400, "reason must be a non-empty string"),
    ({**RANGE, "reason": "x" * 65}, 400, "reason must be a non-empty string of at most 64"),
    ({**RANGE, "limit": "0"}, 400, "limit must be a whole number from 1 to 50"),
    ({**RANGE, "limit": "51"}, 400, "limit must be a whole number from 1 to 50"),
    ({**RANGE, "limit": "ten"}, 400, "limit must be a whole number from 1 to 50"),
    ({**RANGE, "cursor": ""}, 400, "cursor must be a next_cursor this route gave"),
    ({**RANGE, "cursor": "abc"}, 400, "cursor must be a next_cursor this route gave"),
    ({"from": "2025/11/01", "to": "2025-11-08"}, 400, "YYYY-MM-DD"),
    ({"from": "2025-11-09", "to": "2025-11-08"}, 422, "must not be after"),
    ({"from": "2024-01-01", "to": "2025-11-08"}, 422, "cannot exceed 365 days"),
])
def test_bad_parameters_are_refused_in_the_spec_shape(client, admin_headers, params, status, fragment):
    response = _get(client, admin_headers, **params)
    assert response.status_code == status, response.text
    assert response.json["error"]["code"] == ("validation_error" if status == 400 else "business_rule_violation")
    assert fragment in response.json["error"]["message"]


def test_a_parameter_given_twice_is_refused(client, admin_headers):
    response = client.simulate_get(ROUTE, query_string="from=2025-11-01&to=2025-11-08&direction=debit&direction=credit",
                                   headers=admin_headers)
    assert response.status_code == 400
    assert "more than once: direction" in response.json["error"]["message"]


def test_it_needs_an_admin_token(client, db):
    assert client.simulate_get(ROUTE, params=RANGE).status_code == 401


# --- paging through every page gives exactly the unpaged rows --------------------------------

# Local days (Asia/Kolkata) 2025-11-01, -02, -02, -04: at local midnight, a second before, mid-day.
INSTANTS = [datetime(2025, 11, 1, 18, 29, 59), datetime(2025, 11, 1, 18, 30), datetime(2025, 11, 2, 9, 15),
            datetime(2025, 11, 3, 23, 59, 59)]
DAYS = [date(2025, 11, 1) + timedelta(days=n) for n in range(4)]
REASONS = ["purchase", "Purchase", "chapter_generation"]  # two differ only in letter case
ledger_row = st.tuples(
    st.sampled_from(INSTANTS),  # few instants: many rows share one, so the id breaks the ties
    st.sampled_from([2, 3]),
    st.sampled_from(["credit", "debit"]),
    st.sampled_from(REASONS),
)
query_filters = st.fixed_dictionaries({}, optional={
    "user_id": st.sampled_from(["2", "3"]),
    "direction": st.sampled_from(["credit", "debit"]),
    "reason": st.sampled_from([*REASONS, "translation"]),
})


def _ledger_values(n: int, row: tuple) -> dict:
    at, user_id, direction, reason = row
    # Ids in an order unlike the timestamps', so the tie-break is really by id.
    return {"id": f"01PROP{(n * 7919) % 1000:020d}", "user_id": user_id, "token_type": "regular",
            "direction": direction, "reason": reason, "amount": 1 + n, "occurred_at": at}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(ledger_row, max_size=30), late_rows=st.lists(ledger_row, max_size=4),
       materialized=st.sets(st.sampled_from(DAYS)), filters=query_filters, limit=st.integers(1, 7),
       day_range=st.sampled_from([("2025-11-01", "2025-11-03"), ("2025-11-02", "2025-11-02"),
                                  ("2025-11-03", "2025-11-04"), ("2025-11-01", "2025-11-04")]))
def test_paging_through_every_page_gives_exactly_the_unpaged_rows(db, settings, client, admin_headers, rows,
                                                                 late_rows, materialized, filters, limit, day_range):
    """Whichever days are materialized (a reason's pages skip the stored days whose breakdown does
    not list it) and whichever rows came after (their days are dirty until folded in)."""
    with db.begin() as conn:
        empty_tables(conn, keep=lambda table: not table.name.startswith("analytics_") or table is analytics_exports)
        conn.execute(wallet_ledger.delete())
        conn.execute(sa.delete(users).where(users.c.id != 1))
        conn.execute(sa.insert(users), [{"id": u, "username": f"user{u}", "email": f"user{u}@example.com",
                                         "role": "user", "created_at": datetime(2025, 1, 1)} for u in (2, 3)])
        if rows:
            conn.execute(sa.insert(wallet_ledger), [_ledger_values(n, row) for n, row in enumerate(rows)])
        forget_changes(conn)  # last: the writes above were captured too
    for day in materialized:
        materialize_day(db, day, KOLKATA)
    if late_rows:
        with db.begin() as conn:
            conn.execute(sa.insert(wallet_ledger), [_ledger_values(100 + n, row) for n, row in enumerate(late_rows)])
    params = {"from": day_range[0], "to": day_range[1], **filters}
    pages = _all_pages(client, admin_headers, **params, limit=str(limit))
    parsed = parse_request({"dataset": "transactions", "filters": params})
    with db.connect() as conn:
        unpaged = [row.id for row in conn.execute(
            TRANSACTIONS.select(parsed.filters, ["id"], settings.report_timezone))]
    assert [row["id"] for page in pages for row in page] == unpaged
    assert all(len(page) == limit for page in pages[:-1]) and len(pages[-1]) <= limit


def test_a_reason_matches_byte_for_byte_as_the_features_panel_groups_it(db, settings, client, admin_headers):
    f.add_user(db, 2)
    exact = f.add_transaction(db, 2, "2025-11-02 10:00:00", reason="purchase")
    for variant in ("Purchase", "purchase ", "PURCHASE"):
        f.add_transaction(db, 2, "2025-11-02 10:00:00", reason=variant)
    rows = _page(client, admin_headers, **RANGE, reason="purchase")["transactions"]
    assert [row["id"] for row in rows] == [exact]
    with db.begin() as conn:
        record, _ = records.create_export(conn, settings, 1, parse_request(
            {"dataset": "transactions", "filters": {**RANGE, "reason": "purchase"}}))
    assert record["estimated_rows"] == 1  # the export's count reads the same filter
