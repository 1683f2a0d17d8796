"""Validating an export request: type, dataset, filters and columns (spec, "Dataset Filters")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.dates import check_range, parse_api_day, parse_range
from core.errors import ValidationError, excerpt
from core.exports.datasets import DATASETS, Dataset
from core.exports.formats import FORMATS, NO_COMPRESSION
from core.numbers import is_ascii_digits
from core.tables import EXPORT_COMPRESSIONS, EXPORT_TYPES

REQUEST_KEYS = ("type", "dataset", "filters", "columns", "compression", "excel")


@dataclass(frozen=True)
class ExportRequest:
    type: str
    dataset: Dataset
    filters: dict[str, Any]  # validated and normalised; stored as given back to the admin
    columns: list[str] | None  # None: every column of the dataset, in its order
    compression: str = NO_COMPRESSION
    excel: bool = False  # a CSV with a UTF-8 BOM, so that Excel reads it as UTF-8


def parse_request(body: object) -> ExportRequest:
    """Check a POST body; ValidationError (400) or BusinessRuleViolation (422) naming the problem."""
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object with type, dataset and filters")
    unknown = sorted(set(body) - set(REQUEST_KEYS))
    if unknown:
        raise ValidationError(f"Unknown field(s) {excerpt(', '.join(unknown))}; allowed: {', '.join(REQUEST_KEYS)}")
    export_type = body.get("type", "csv")
    if export_type not in EXPORT_TYPES:
        raise ValidationError(f"type must be one of {', '.join(EXPORT_TYPES)}; got {excerpt(repr(export_type))}")
    dataset = DATASETS.get(body.get("dataset")) if isinstance(body.get("dataset"), str) else None
    if dataset is None:
        raise ValidationError(f"dataset must be one of {', '.join(DATASETS)}; got {excerpt(repr(body.get('dataset')))}")
    return ExportRequest(
        type=export_type,
        dataset=dataset,
        filters=parse_filters(dataset, body.get("filters", {}), prefix="filters."),
        columns=_parse_columns(dataset, body["columns"]) if "columns" in body else None,
        compression=_parse_compression(export_type, body.get("compression", NO_COMPRESSION)),
        excel=_parse_excel(export_type, body.get("excel", False)),
    )


def _parse_compression(export_type: str, raw: object) -> str:
    if raw not in EXPORT_COMPRESSIONS:
        raise ValidationError(f"compression must be one of {', '.join(EXPORT_COMPRESSIONS)}; got {excerpt(repr(raw))}")
    if raw != NO_COMPRESSION and not FORMATS[export_type].compressible:
        raise ValidationError(f"compression {raw} is for csv, json and jsonl; {export_type} files are compressed "
                              "inside already: leave compression out")
    return raw


def _parse_excel(export_type: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValidationError(f"excel must be true or false; got {excerpt(repr(raw))}")
    if raw and export_type != "csv":
        raise ValidationError("excel (a UTF-8 byte order mark for Excel) is for csv only; for Excel, xlsx needs none")
    return raw


def parse_filters(dataset: Dataset, raw: object, prefix: str = "") -> dict[str, Any]:
    """The dataset's filters, validated and normalised; `prefix` names them in messages."""
    if not isinstance(raw, dict):
        raise ValidationError("filters must be a JSON object")
    unknown = sorted(set(raw) - set(dataset.filter_names))
    if unknown:
        raise ValidationError(
            f"Unknown filter(s) {excerpt(', '.join(unknown))} for {dataset.name}; allowed: {', '.join(dataset.filter_names)}"
        )
    filters: dict[str, Any] = {}
    # A key given as null is a bad value, not an absent one: leave a filter out for no filter.
    if dataset.range_required or "from" in raw or "to" in raw:
        first, last = _parse_dates(raw.get("from"), raw.get("to"), required=dataset.range_required)
        filters.update({"from": first.isoformat(), "to": last.isoformat()})
    for name, rule in dataset.filters.items():
        if name in raw:  # null is refused, not ignored
            filters[name] = rule.parse(raw[name], prefix + name)
    return filters


def _parse_dates(raw_from: object, raw_to: object, *, required: bool):
    if required:
        return parse_range(raw_from, raw_to)
    if raw_from is None or raw_to is None:
        raise ValidationError("from and to must be given together")
    first, last = parse_api_day(raw_from, "from"), parse_api_day(raw_to, "to")
    check_range(first, last)
    return first, last


def _parse_columns(dataset: Dataset, raw: object) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise ValidationError("columns must be a non-empty list of column names; leave it out for all of them")
    unknown = [name for name in raw if name not in dataset.columns]
    if unknown:
        raise ValidationError(
            f"Unknown column(s) {excerpt(', '.join(unknown))} for {dataset.name}; available: {', '.join(dataset.columns)}"
        )
    if len(set(raw)) != len(raw):
        raise ValidationError("columns must not repeat a column")
    return list(raw)


def parse_page_limit(raw: object, default: int, maximum: int) -> int:
    """A page's `limit` query parameter: `default` when absent, else a whole number from 1 to `maximum`."""
    if raw is None:
        return default
    if not (is_ascii_digits(raw, len(str(maximum))) and 1 <= int(raw) <= maximum):
        raise ValidationError(f"limit must be a whole number from 1 to {maximum}; got {excerpt(repr(raw))}")
    return int(raw)
