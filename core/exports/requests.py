"""Export requests: validation, the row estimate, and the `analytics_exports` records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from ulid import ULID

from core.config import Settings
from core.dates import check_range, parse_date, parse_range, utc_now
from core.errors import BusinessRuleViolation, NotFound, ValidationError
from core.exports.datasets import DATASETS, Dataset
from core.tables import EXPORT_TYPES, analytics_exports

MAX_ROWS = 100_000
REQUEST_KEYS = ("type", "dataset", "filters", "columns")
_ULID_ALPHABET = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100


@dataclass(frozen=True)
class ExportRequest:
    type: str
    dataset: Dataset
    filters: dict[str, Any]  # validated and normalised; stored as given back to the admin
    columns: list[str] | None  # None: every column of the dataset, in its order

    @property
    def output_columns(self) -> list[str]:
        return self.columns or list(self.dataset.columns)


def parse_request(body: object) -> ExportRequest:
    """Check a POST body; ValidationError (400) or BusinessRuleViolation (422) naming the problem."""
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object with type, dataset and filters")
    unknown = sorted(set(body) - set(REQUEST_KEYS))
    if unknown:
        raise ValidationError(f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(REQUEST_KEYS)}")
    export_type = body.get("type", "csv")
    if export_type not in EXPORT_TYPES:
        raise ValidationError(f"type must be one of {', '.join(EXPORT_TYPES)}; got {export_type!r}")
    dataset = DATASETS.get(body.get("dataset")) if isinstance(body.get("dataset"), str) else None
    if dataset is None:
        raise ValidationError(f"dataset must be one of {', '.join(DATASETS)}; got {body.get('dataset')!r}")
    return ExportRequest(
        type=export_type,
        dataset=dataset,
        filters=_parse_filters(dataset, body.get("filters", {})),
        columns=_parse_columns(dataset, body.get("columns")),
    )


def _parse_filters(dataset: Dataset, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError("filters must be a JSON object")
    unknown = sorted(set(raw) - set(dataset.filter_names))
    if unknown:
        raise ValidationError(
            f"Unknown filter(s) {', '.join(unknown)} for {dataset.name}; allowed: {', '.join(dataset.filter_names)}"
        )
    filters: dict[str, Any] = {}
    if dataset.range_required or raw.get("from") is not None or raw.get("to") is not None:
        first, last = _parse_dates(raw.get("from"), raw.get("to"), required=dataset.range_required)
        filters.update({"from": first.isoformat(), "to": last.isoformat()})
    for name, rule in dataset.filters.items():
        if raw.get(name) is not None:
            filters[name] = rule.parse(name, raw[name])
    return filters


def _parse_dates(raw_from: object, raw_to: object, *, required: bool):
    if required:
        return parse_range(raw_from, raw_to)
    if raw_from is None or raw_to is None:
        raise ValidationError("from and to must be given together")
    first, last = parse_date(raw_from, "from"), parse_date(raw_to, "to")
    check_range(first, last)
    return first, last


def _parse_columns(dataset: Dataset, raw: object) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise ValidationError("columns must be a non-empty list of column names")
    unknown = [name for name in raw if name not in dataset.columns]
    if unknown:
        raise ValidationError(
            f"Unknown column(s) {', '.join(unknown)} for {dataset.name}; available: {', '.join(dataset.columns)}"
        )
    if len(set(raw)) != len(raw):
        raise ValidationError("columns must not repeat a column")
    return list(raw)


def estimate_rows(engine: Engine, settings: Settings, request: ExportRequest) -> int:
    with engine.connect() as conn:
        return conn.execute(request.dataset.count(request.filters, settings.report_timezone)).scalar_one()


def create_export(engine: Engine, settings: Settings, user_id: int, request: ExportRequest) -> dict:
    """Record a `preparing` export after checking the row limit; the caller enqueues it."""
    estimated = estimate_rows(engine, settings, request)
    if estimated > MAX_ROWS:
        raise BusinessRuleViolation(
            f"This export would have {estimated:,} rows, more than the limit of {MAX_ROWS:,}; "
            "narrow the filters (a shorter date range, a user, a status)"
        )
    record = {
        "id": str(ULID()),
        "user_id": user_id,
        "type": request.type,
        "dataset": request.dataset.name,
        "filters": request.filters,
        "columns": request.columns,
        "status": "preparing",
        "estimated_rows": estimated,
        "created_at": utc_now(),
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(analytics_exports).values(record))
    return get_export(engine, settings, user_id, record["id"])


def check_export_id(raw: str, name: str = "export_id") -> str:
    if len(raw) != 26 or not set(raw) <= _ULID_ALPHABET or raw[0] > "7":
        raise ValidationError(f"{name} must be a 26-character ULID; got {raw[:40]!r}")
    return raw


def load_export(engine: Engine, export_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(analytics_exports).where(analytics_exports.c.id == export_id)).first()
    return None if row is None else row._asdict()


def get_export(engine: Engine, settings: Settings, user_id: int, export_id: str) -> dict:
    """The caller's export; another admin's is as unknown as a missing one (404)."""
    record = load_export(engine, check_export_id(export_id))
    if record is None or record["user_id"] != user_id:
        raise NotFound("Export not found")
    if _is_stuck(record, settings):
        fail_export(engine, export_id, stuck_message(settings))
        record = load_export(engine, export_id)
    return record


def list_exports(engine: Engine, user_id: int, *, limit: object = None, cursor: str | None = None):
    """A page of the caller's exports, newest first, and the cursor of the next page (or None)."""
    limit = _page_limit(limit)
    query = sa.select(analytics_exports).where(analytics_exports.c.user_id == user_id)
    if cursor:
        query = query.where(analytics_exports.c.id < check_export_id(cursor, "cursor"))
    query = query.order_by(analytics_exports.c.id.desc()).limit(limit + 1)
    with engine.connect() as conn:
        records = [row._asdict() for row in conn.execute(query)]
    next_cursor = records[limit - 1]["id"] if len(records) > limit else None
    return records[:limit], next_cursor


def _page_limit(raw: object) -> int:
    if raw in (None, ""):
        return LIST_LIMIT_DEFAULT
    if not (isinstance(raw, str) and raw.isdigit() and 1 <= int(raw) <= LIST_LIMIT_MAX):
        raise ValidationError(f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}; got {raw!r}")
    return int(raw)


def fail_export(engine: Engine, export_id: str, message: str, *, now: datetime | None = None) -> bool:
    """Mark a `preparing` export failed; False if it had already finished some other way."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(analytics_exports)
            .where(analytics_exports.c.id == export_id, analytics_exports.c.status == "preparing")
            .values(status="failed", error_message=message, completed_at=now or utc_now())
        )
    return result.rowcount == 1


def stuck_message(settings: Settings) -> str:
    return (
        f"Timed out: still preparing after {settings.export_stuck_minutes} minutes "
        "(the worker may have stopped); create the export again"
    )


def _is_stuck(record: dict, settings: Settings) -> bool:
    return (
        settings.export_stuck_minutes > 0
        and record["status"] == "preparing"
        and record["created_at"] < stuck_cutoff(settings)
    )


def stuck_cutoff(settings: Settings, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(minutes=settings.export_stuck_minutes)
