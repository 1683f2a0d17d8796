"""Every dataset in both formats, with each of its filters, through the API and a real
Dramatiq worker on Redis: exactly the expected rows, in order, with the expected columns."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from core.exports.datasets import DATASETS
from core.tables import users
from tests import factories as f
from tests.exports_support import download, export_and_download

FROM, TO = "2025-11-01", "2025-11-08"
# Asia/Kolkata is UTC+05:30: the local range 2025-11-01..08 is [10-31 18:30, 11-08 18:30) in UTC.
FIRST_MOMENT, LAST_MOMENT = "2025-10-31 18:30:00", "2025-11-08 18:29:59"
JUST_BEFORE, JUST_AFTER = "2025-10-31 18:29:59", "2025-11-08 18:30:00"
# The spec's header, verbatim (Test Scenario 3).
SPEC_HEADER = (
    "id,user_id,username,email,token_type,direction,reason,amount,balance_after_regular,"
    "balance_after_promo,reference_id,metadata,occurred_at"
)
TRANSACTIONS_HEADER = SPEC_HEADER.split(",")


@pytest.fixture
def people(db, admin_headers):
    f.add_user(db, 2, username="john_doe")
    f.add_user(db, 3, username="jane")
    return db


def _ids(export_type, rows):
    if export_type == "csv":
        return [row[0] for row in rows[1:]]
    return [str(item["id"]) for item in rows]


def _check_cases(client, admin_headers, export_type, dataset, cases):
    for filters, expected in cases:
        done, rows = export_and_download(
            client, admin_headers, {"type": export_type, "dataset": dataset, "filters": filters}
        )
        assert _ids(export_type, rows) == expected, filters
        assert done["actual_rows"] == done["estimated_rows"] == len(expected)
        if export_type == "csv":
            assert rows[0] == list(DATASETS[dataset].columns)
        else:
            assert all(list(item) == list(DATASETS[dataset].columns) for item in rows)


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_transactions(client, admin_headers, people, worker, export_type):
    db = people
    first = f.add_transaction(db, 2, FIRST_MOMENT, direction="debit", reference_id="chapter_123",
                              metadata={"chapter_id": 123})
    middle = f.add_transaction(db, 3, "2025-11-03 12:00:00", direction="credit", token_type="promo",
                               reason="referral_bonus")
    last = f.add_transaction(db, 2, LAST_MOMENT, direction="credit", reason="purchase")
    f.add_transaction(db, 2, JUST_BEFORE)
    f.add_transaction(db, 2, JUST_AFTER)
    _check_cases(client, admin_headers, export_type, "transactions", [
        ({"from": FROM, "to": TO}, [first, middle, last]),
        ({"from": FROM, "to": TO, "user_id": 2}, [first, last]),
        ({"from": FROM, "to": TO, "token_type": "promo"}, [middle]),
        ({"from": FROM, "to": TO, "direction": "debit"}, [first]),
        ({"from": FROM, "to": TO, "reason": "purchase"}, [last]),
        ({"from": "2025-11-02", "to": "2025-11-02"}, []),
    ])


def test_transactions_csv_matches_the_spec(client, admin_headers, people, worker):
    ledger_id = f.add_transaction(people, 2, "2025-11-01 05:30:00", amount=500, reference_id="chapter_123",
                                  metadata={"chapter_id": 123})
    _, rows = export_and_download(client, admin_headers, {"type": "csv", "dataset": "transactions",
                                                          "filters": {"from": FROM, "to": TO}})
    assert rows == [
        TRANSACTIONS_HEADER,
        [ledger_id, "2", "john_doe", "john_doe@example.com", "regular", "debit", "chapter_generation", "500",
         "900", "50", "chapter_123", '{"chapter_id":123}', "2025-11-01T11:00:00+05:30"],
    ]


def test_transactions_json_has_native_types(client, admin_headers, people, worker):
    ledger_id = f.add_transaction(people, 2, "2025-11-01 05:30:00", amount=500, metadata={"chapter_id": 123})
    _, rows = export_and_download(client, admin_headers, {"type": "json", "dataset": "transactions",
                                                          "filters": {"from": FROM, "to": TO}})
    assert rows == [{
        "id": ledger_id, "user_id": 2, "username": "john_doe", "email": "john_doe@example.com",
        "token_type": "regular", "direction": "debit", "reason": "chapter_generation", "amount": 500,
        "balance_after_regular": 900, "balance_after_promo": 50, "reference_id": None,
        "metadata": {"chapter_id": 123}, "occurred_at": "2025-11-01T11:00:00+05:30",
    }]


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_purchases(client, admin_headers, people, worker, export_type):
    db = people
    paid = f.add_purchase(db, 2, FIRST_MOMENT, status="paid", provider="razorpay")
    failed = f.add_purchase(db, 3, "2025-11-04 09:00:00", status="failed", provider="stripe")
    pending = f.add_purchase(db, 2, LAST_MOMENT, status="pending", provider="stripe")
    f.add_purchase(db, 2, JUST_BEFORE)
    f.add_purchase(db, 2, JUST_AFTER)
    _check_cases(client, admin_headers, export_type, "purchases", [
        ({"from": FROM, "to": TO}, [paid, failed, pending]),
        ({"from": FROM, "to": TO, "user_id": 2}, [paid, pending]),
        ({"from": FROM, "to": TO, "status": "failed"}, [failed]),
        ({"from": FROM, "to": TO, "provider": "stripe"}, [failed, pending]),
    ])


def test_purchase_amounts_stay_exact(client, admin_headers, people, worker):
    f.add_purchase(people, 2, "2025-11-02 10:00:00", amount_inr="3999.00", tokens=5000)
    _, rows = export_and_download(client, admin_headers, {"dataset": "purchases", "filters": {"from": FROM, "to": TO}})
    row = dict(zip(rows[0], rows[1]))
    assert (row["amount_inr"], row["tokens"], row["username"], row["paid_at"]) == (
        "3999.00", "5000", "john_doe", "2025-11-02T15:30:00+05:30")
    for export_type in ("json", "jsonl"):
        done, items = export_and_download(client, admin_headers, {"type": export_type, "dataset": "purchases",
                                                                  "filters": {"from": FROM, "to": TO}})
        assert (items[0]["amount_inr"], items[0]["tokens"]) == (3999.0, 5000)
        # Money keeps its two decimals on the wire, a number as in the analytics API.
        assert b'"amount_inr":3999.00,' in download(client, done)


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_referrals(client, admin_headers, people, worker, export_type):
    db = people
    f.add_user(db, 4, username="newbie")
    f.add_campaign(db, "diwali", "Diwali double bonus")
    credited = f.add_referral(db, 2, 4, FIRST_MOMENT, campaign_id="diwali", status="credited")
    pending = f.add_referral(db, 3, 4, "2025-11-05 10:00:00", status="pending")
    other = f.add_referral(db, 2, 3, LAST_MOMENT, campaign_id="diwali", status="pending")
    f.add_referral(db, 2, 4, JUST_BEFORE, campaign_id="diwali")
    f.add_referral(db, 2, 4, JUST_AFTER, campaign_id="diwali")
    _check_cases(client, admin_headers, export_type, "referrals", [
        ({"from": FROM, "to": TO}, [credited, pending, other]),
        ({"from": FROM, "to": TO, "campaign_id": "diwali"}, [credited, other]),
        ({"from": FROM, "to": TO, "status": "pending"}, [pending, other]),
        ({"from": FROM, "to": TO, "referrer_user_id": 3}, [pending]),
    ])
    _, rows = export_and_download(client, admin_headers, {"type": "json", "dataset": "referrals",
                                                          "filters": {"from": FROM, "to": TO, "status": "credited"}})
    assert {k: rows[0][k] for k in ("campaign_name", "referrer_username", "referred_username", "bonus_awarded")} == {
        "campaign_name": "Diwali double bonus", "referrer_username": "john_doe", "referred_username": "newbie",
        "bonus_awarded": 50,
    }


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_authorizations(client, admin_headers, people, worker, export_type):
    db = people
    captured = f.add_authorization(db, 2, FIRST_MOMENT, status="captured", feature="chapter_generation")
    voided = f.add_authorization(db, 3, "2025-11-06 10:00:00", status="voided", feature="image_generation")
    held = f.add_authorization(db, 2, LAST_MOMENT, status="held", feature="image_generation")
    f.add_authorization(db, 2, JUST_BEFORE)
    f.add_authorization(db, 2, JUST_AFTER)
    _check_cases(client, admin_headers, export_type, "authorizations", [
        ({"from": FROM, "to": TO}, [captured, voided, held]),
        ({"from": FROM, "to": TO, "user_id": 3}, [voided]),
        ({"from": FROM, "to": TO, "feature": "image_generation"}, [voided, held]),
        ({"from": FROM, "to": TO, "status": "captured"}, [captured]),
    ])


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_users(client, admin_headers, db, worker, export_type):
    with db.begin() as conn:  # user 1 is the admin of `admin_headers`
        conn.execute(sa.update(users).where(users.c.id == 1).values(created_at=datetime.fromisoformat(JUST_BEFORE)))
    f.add_user(db, 2, created_at=datetime.fromisoformat(FIRST_MOMENT))
    f.add_user(db, 3, role="service", created_at=datetime.fromisoformat(LAST_MOMENT))
    f.add_user(db, 4, created_at=datetime.fromisoformat(JUST_AFTER))
    f.add_wallet(db, 2, regular=9500, promo=100)
    _check_cases(client, admin_headers, export_type, "users", [
        ({}, ["1", "2", "3", "4"]),
        ({"from": FROM, "to": TO}, ["2", "3"]),
        ({"role": "user"}, ["2", "4"]),
        ({"role": "service", "from": FROM, "to": TO}, ["3"]),
    ])
    _, rows = export_and_download(client, admin_headers, {"type": export_type, "dataset": "users",
                                                          "filters": {"from": FROM, "to": TO}})
    if export_type == "json":
        assert [(r["balance_regular"], r["balance_promo"]) for r in rows] == [(9500, 100), (0, 0)]
    else:
        assert rows[1] == ["2", "user2", "user2@example.com", "user", "9500", "100", "2025-11-01T00:00:00+05:30"]


def test_chosen_columns_come_in_the_chosen_order(client, admin_headers, people, worker):
    f.add_transaction(people, 2, "2025-11-02 10:00:00", amount=7)
    body = {"dataset": "transactions", "filters": {"from": FROM, "to": TO}, "columns": ["amount", "username"]}
    done, rows = export_and_download(client, admin_headers, body)
    assert rows == [["amount", "username"], ["7", "john_doe"]]
    assert done["columns"] == ["amount", "username"]
    _, items = export_and_download(client, admin_headers, {**body, "type": "json"})
    assert items == [{"amount": 7, "username": "john_doe"}]


def test_text_cells_cannot_become_spreadsheet_formulas(client, admin_headers, db, worker):
    for user_id, name in [(2, "=HYPERLINK(1)"), (3, "+cmd"), (4, "-2+3"), (5, "@SUM(A1)"), (6, "\tx"), (7, "\rx"),
                           (8, "\0=1+1"), (9, "\nx")]:
        f.add_user(db, user_id, username=name)
    f.add_user(db, 10, username="plain")
    f.add_transaction(db, 2, "2025-11-02 10:00:00", reason="=1+1", reference_id="-ref")
    _, rows = export_and_download(client, admin_headers, {"dataset": "users", "columns": ["id", "username"]})
    assert [row[1] for row in rows[1:]] == [
        "admin", "'=HYPERLINK(1)", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "'\0=1+1", "'\nx", "plain"]
    _, rows = export_and_download(client, admin_headers, {
        "dataset": "transactions", "filters": {"from": FROM, "to": TO},
        "columns": ["reason", "reference_id", "amount", "email"]})
    assert rows[1] == ["'=1+1", "'-ref", "10", "'=HYPERLINK(1)@example.com"]
    _, items = export_and_download(client, admin_headers, {"type": "json", "dataset": "users", "columns": ["username"]})
    assert items[1] == {"username": "=HYPERLINK(1)"}  # JSON is data, not a spreadsheet: left as it is


def test_a_dataset_cannot_filter_on_a_joined_table():
    # The row estimate counts the dataset's own table alone; a filter on a joined one would
    # make it wrong.
    from dataclasses import replace

    from core.exports.datasets import TRANSACTIONS, Filter, parse_code
    from core.tables import users

    with pytest.raises(ValueError, match="every filter must be on wallet_ledger"):
        replace(TRANSACTIONS, filters={"role": Filter(users.c.role, parse_code)})


def test_without_an_indexed_filter_the_range_indexes_hold_the_plan_on_mysql():
    from zoneinfo import ZoneInfo

    from sqlalchemy.dialects import mysql, sqlite

    from core.exports.datasets import TRANSACTIONS

    def sql(filters, dialect):
        query = TRANSACTIONS.select({"from": FROM, "to": TO, **filters}, ["id"], ZoneInfo("Asia/Kolkata"))
        return str(query.compile(dialect=dialect))

    held = "FORCE INDEX (idx_ledger_occurred_at, idx_ledger_day_rollup)"
    assert held in sql({"reason": "purchase"}, mysql.dialect())
    assert sql({}, mysql.dialect()).startswith("SELECT STRAIGHT_JOIN ")
    assert "FORCE" not in sql({"user_id": 2}, mysql.dialect())  # its own index serves it better
    assert "FORCE" not in sql({"reason": "purchase"}, sqlite.dialect())


@pytest.mark.parametrize("dataset", [d for d in DATASETS.values() if d.range_indexes], ids=lambda d: d.name)
def test_range_indexes_lead_with_the_timestamp(dataset):
    indexes = {index.name: index for index in dataset.timestamp.table.indexes}
    for name in dataset.range_indexes:
        assert list(indexes[name].columns)[0] is dataset.timestamp, name
