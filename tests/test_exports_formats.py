"""Every format, read back by an independent reader (csv, json, gzip, pyarrow, openpyxl), holds
exactly the database's rows with the same meaning: money with two decimals, instants with their
zone, text neutralised where a spreadsheet would read it, NULL as nothing."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from core.exports import state
from core.exports.datasets import DATASETS
from core.exports.generation import generate_export
from core.exports.records import create_export
from core.exports.validation import parse_request
from core.exports.writers import FORMULA_TRIGGERS
from core.tables import purchases, wallet_ledger
from tests import factories as f

ADMIN = 1
FROM, TO = "2025-11-01", "2025-11-08"
ZONE = ZoneInfo("Asia/Kolkata")
# Within the local days FROM..TO in UTC, whole seconds.
FIRST_INSTANT = datetime(2025, 10, 31, 18, 30)
SECONDS_IN_RANGE = 8 * 86400 - 1
FORMATS = [("csv", "none", False), ("csv", "gzip", False), ("csv", "none", True), ("json", "none", False),
           ("json", "gzip", False), ("jsonl", "none", False), ("jsonl", "gzip", False),
           ("parquet", "none", False), ("xlsx", "none", False)]

# Text that tests the writers: formula triggers first, quotes, commas, line breaks, non-ASCII.
_text = st.text(alphabet=st.sampled_from("ab,\"' é€日=+-@\t\r\n"), min_size=1, max_size=12)
_instant = st.integers(0, SECONDS_IN_RANGE).map(lambda s: FIRST_INSTANT + timedelta(seconds=s))
_transaction = st.fixed_dictionaries({
    "occurred_at": _instant,
    "amount": st.integers(1, 2**53),
    "reason": _text,
    "reference_id": st.none() | _text,
    "metadata": st.none() | st.dictionaries(st.sampled_from(["k", "é", "n"]), st.integers(-5, 5) | _text, max_size=2),
})
_purchase = st.fixed_dictionaries({
    "created_at": _instant,
    "amount_inr": st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2),
    "status": st.sampled_from(["paid", "pending"]),
})


@pytest.fixture
def admin(db):
    f.add_user(db, ADMIN, role="admin", username="=admin")
    f.add_user(db, 2, username="José, \"the\" user")
    return db


def _clear(engine) -> None:
    with engine.begin() as conn:
        for table in (wallet_ledger, purchases):
            conn.execute(table.delete())


def _add_transactions(engine, items) -> None:
    with engine.begin() as conn:
        for number, item in enumerate(items):
            conn.execute(sa.insert(wallet_ledger).values(
                id=f"01FORMAT{number:018d}", user_id=2, token_type="regular", direction="debit",
                balance_after_regular=0, balance_after_promo=2**40,
                **{**item, "metadata": sa.null() if item["metadata"] is None else item["metadata"]}))


def _add_purchases(engine, items) -> None:
    with engine.begin() as conn:
        for number, item in enumerate(items):
            conn.execute(sa.insert(purchases).values(
                id=f"01FORMAT{number:018d}", user_id=2, provider="stripe", provider_ref=None, tokens=500,
                paid_at=item["created_at"] if item["status"] == "paid" else None, **item))


def _database_rows(engine, dataset_name: str) -> list[dict]:
    """The dataset's rows as the database gives them, typed (no casts to text)."""
    dataset = DATASETS[dataset_name]
    query = (sa.select(*[column.label(name) for name, column in dataset.columns.items()])
             .select_from(dataset.source).order_by(dataset.timestamp, dataset.columns["id"]))
    with engine.connect() as conn:
        return [row._asdict() for row in conn.execute(query)]


def _export(engine, settings, dataset: str, export_type: str, compression: str, excel: bool) -> tuple[dict, bytes]:
    body = {"type": export_type, "dataset": dataset,
            "filters": {"from": FROM, "to": TO} if DATASETS[dataset].range_required else {},
            "compression": compression, "excel": excel}
    with engine.begin() as conn:
        # A new export each time: the equal one of an earlier example is cancelled first.
        record, _ = create_export(conn, settings, ADMIN, parse_request(body))
    generate_export(engine, settings, record["id"])
    with engine.begin() as conn:
        record = state.load(conn, record["id"])
        state.cancel(conn, settings, record["id"], datetime.now(UTC).replace(tzinfo=None))
    assert record["status"] == "ready", record
    content = (settings.export_dir / record["file_path"]).read_bytes()
    assert len(content) == record["file_size"]
    return record, content


# What each reader gives back for a database value.

def _local(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC).astimezone(ZONE)


def _spreadsheet_text(value: str) -> str:
    return "'" + value if value and value[0] in FORMULA_TRIGGERS else value


def _compact(document) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _as_csv(name: str, value, dataset) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value).isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if name in dataset.json_columns:
        return _spreadsheet_text(_compact(value))
    if isinstance(value, str):
        return _spreadsheet_text(value)
    return str(value)


def _as_json(value):
    if isinstance(value, datetime):
        return _local(value).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _as_parquet(name: str, value, dataset):
    if isinstance(value, datetime):
        return _local(value)
    if name in dataset.json_columns and value is not None:
        return _compact(value)
    return value


def _as_xlsx(name: str, value, dataset):
    if isinstance(value, datetime):
        return _local(value).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    if name in dataset.json_columns and value is not None:
        return _spreadsheet_text(_compact(value))
    if isinstance(value, str):
        return _spreadsheet_text(value)
    return value


def _check(engine, settings, dataset_name: str) -> None:
    dataset = DATASETS[dataset_name]
    expected = _database_rows(engine, dataset_name)
    names = list(dataset.columns)
    for export_type, compression, excel in FORMATS:
        record, content = _export(engine, settings, dataset_name, export_type, compression, excel)
        assert record["actual_rows"] == len(expected)
        if compression == "gzip":
            assert record["file_path"].endswith(f".{export_type}.gz")
            content = gzip.decompress(content)
        if export_type == "csv":
            text = content.decode("utf-8")
            assert text.startswith("\ufeff") == excel
            rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
            assert rows == [names] + [[_as_csv(n, row[n], dataset) for n in names] for row in expected]
        elif export_type in ("json", "jsonl"):
            items = json.loads(content) if export_type == "json" else [json.loads(x) for x in content.splitlines()]
            assert items == [{n: _as_json(row[n]) for n in names} for row in expected]
            if dataset.name == "purchases":  # two decimals on the wire, not 449.0
                assert content.count(b'"amount_inr":') == len(expected)
                assert all(f'"amount_inr":{row["amount_inr"]:.2f}'.encode() in content for row in expected)
        elif export_type == "parquet":
            table = pq.read_table(io.BytesIO(content))
            assert table.schema.names == names
            _check_parquet_types(table.schema, dataset)
            assert table.to_pylist() == [{n: _as_parquet(n, row[n], dataset) for n in names} for row in expected]
        else:
            sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
            # OOXML writes a CR as `_x000D_`, which Excel reads back and openpyxl leaves to us.
            cells = [[unescape(v) if isinstance(v, str) else v for v in row] for row in sheet.iter_rows(values_only=True)]
            assert cells == [names] + [[_as_xlsx(n, row[n], dataset) for n in names] for row in expected]


def _check_parquet_types(schema: pa.Schema, dataset) -> None:
    for field in schema:
        column = dataset.columns[field.name]
        if column.type.python_type is datetime:
            assert field.type == pa.timestamp("ms", tz="Asia/Kolkata")
        elif column.type.python_type is Decimal:
            assert field.type == pa.decimal128(18, 2)
        elif column.type.python_type is int:
            assert field.type == pa.int64()
        else:
            assert field.type == pa.string()


# Each example writes nine files through the database: few examples, and no shrinking (minutes
# of it); a failure prints its example as generated.
_EXAMPLES = hypothesis_settings(max_examples=6, deadline=None, database=None,
                                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_EXAMPLES
@given(items=st.lists(_transaction, max_size=6))
def test_transactions_mean_the_same_in_every_format(admin, settings, items):
    _clear(admin)
    _add_transactions(admin, items)
    _check(admin, settings, "transactions")


@_EXAMPLES
@given(items=st.lists(_purchase, max_size=6))
def test_purchases_mean_the_same_in_every_format(admin, settings, items):
    _clear(admin)
    _add_purchases(admin, items)
    _check(admin, settings, "purchases")


def test_users_in_every_format(admin, settings):
    f.add_wallet(admin, 2, 9500, 100)
    _check(admin, settings, "users")


def test_row_groups_are_written_as_rows_stream(admin, settings, monkeypatch):
    monkeypatch.setattr("core.exports.parquet.ROW_GROUP_ROWS", 2)
    _add_transactions(admin, [{"occurred_at": FIRST_INSTANT + timedelta(minutes=m), "amount": m + 1,
                               "reason": "r", "reference_id": None, "metadata": None} for m in range(5)])
    _, content = _export(admin, settings, "transactions", "parquet", "none", False)
    meta = pq.ParquetFile(io.BytesIO(content)).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2, 2, 1]


@pytest.mark.parametrize("estimated, written, percent", [(0, 0, 0), (200, 50, 25), (200, 199, 99),
                                                       (10, 50, 99)])  # the data grew since the estimate
def test_progress_percent_is_of_the_estimate_and_below_100_until_ready(estimated, written, percent):
    from core.exports.body import progress_percent

    assert progress_percent({"estimated_rows": estimated, "rows_written": written}) == percent
