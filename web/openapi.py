"""The OpenAPI 3.1 document of every route, served at GET /api/v1/openapi.json (public: it
describes the API's shape, nothing of its data, so tools can fetch it without a token)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from core.analytics.params import MAX_TEXT_LENGTH, MIN_LIMIT
from core.analytics.tokens import GRANULARITIES
from core.analytics.users import DEFAULT_LIMIT, MAX_LIMIT, METRICS
from core.config import MAX_EXPORT_MAX_ROWS
from core.dates import EARLIEST_DAY, LATEST_DAY
from core.exports import webhooks
from core.exports.browse import CURSOR_PATTERN, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from core.exports.datasets import (
    DATASETS,
    MAX_CODE_LENGTH,
    MAX_USER_ID,
    MAX_USER_ID_TEXT_DIGITS,
    TRANSACTIONS,
    Dataset,
    Filter,
    parse_user_id,
)
from core.exports.downloads import LISTED_DOWNLOADS, RANGE_CHARS, USER_AGENT_CHARS
from core.exports.formats import FORMATS, GZIP_CONTENT_TYPE
from core.exports.records import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX
from core.exports.status import ExportStatus
from core.exports.writers import PROGRESS_EVERY
from core.exports.xlsx import XLSX_MAX_ROWS
from core.tables import ETL_RUN_STATUSES, EXPORT_COMPRESSIONS, EXPORT_TYPES, TOKEN_TYPES
from web.resources.exports import DOWNLOAD_PATH, RETRY_AFTER_SECONDS

PATH = "/api/v1/openapi.json"
API = "/api/v1/admin/analytics"  # the prefix of every analytics route (web.app mounts them here)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _header(schema: dict, description: str, required: bool = True) -> dict:
    return {"required": required, "schema": schema, "description": description}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict) -> dict:
    """A closed object whose every property is required (nullable ones say so)."""
    return {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": False}


# Years EARLIEST_DAY to LATEST_DAY (1970 to 9998): the document says which days the API takes.
_API_YEAR = "(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_DAY = {"type": "string", "format": "date"}
_API_DAY = {**_DAY, "pattern": f"^{_API_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"}
_RANGE = [
    _query("from", _API_DAY, f"First day (YYYY-MM-DD, a calendar day of REPORT_TIMEZONE), inclusive; "
           f"{EARLIEST_DAY} to {LATEST_DAY}", required=True),
    _query("to", _API_DAY, "Last day, inclusive; at most 365 days after `from`", required=True),
]
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH}
_COUNT = {"type": "integer", "minimum": 0}
_MONEY = {"type": "number", "minimum": 0, "description": "INR, 2 decimals"}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100, "description": "2 decimals"}
_TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601 with the offset of REPORT_TIMEZONE"}
_ULID = {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$", "description": "a ULID"}

_KPIS = {
    "credited": _COUNT,
    "debited": _COUNT,
    "net": {"type": "integer", "description": "credited - debited"},
    "revenue_in_inr": _MONEY,
    "active_users": {**_COUNT, "description": "distinct users with ledger activity in the period"},
}

# Exports: a request per dataset, and a status body per export status.
_USER_ID = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_USER_ID},
                      {"type": "string", "pattern": f"^[1-9][0-9]{{0,{MAX_USER_ID_TEXT_DIGITS - 1}}}$"}],
            "description": f"a user id from 1 to {MAX_USER_ID} as a number, or as a string of at most "
                           f"{MAX_USER_ID_TEXT_DIGITS} digits with no leading zero"}
_CODE = {"type": "string", "minLength": 1, "maxLength": MAX_CODE_LENGTH}
_CURSOR = {"type": "string", "pattern": f"^{CURSOR_PATTERN.pattern}$",
           "description": "opaque: pass back `next_cursor` as it came"}


def _filter_value(rule: Filter) -> dict:
    choices = getattr(rule.parse, "choices", None)
    if choices:
        return {"enum": list(choices)}
    return _USER_ID if rule.parse is parse_user_id else _CODE


def _filter_parameter(rule: Filter) -> dict:
    """A filter as a query parameter: a user id is its decimal text there."""
    return _USER_ID["anyOf"][1] if rule.parse is parse_user_id else _filter_value(rule)


def _row(dataset: Dataset) -> dict:
    """A row of the dataset as its JSON export writes it."""
    properties = {}
    for name, column in dataset.columns.items():
        if name in dataset.json_columns:
            schema = {"description": "the JSON document as stored"}
        elif isinstance(column.type, sa.Enum):
            schema = {"enum": list(column.type.enums)}
        elif column.type.python_type is datetime:
            schema = _TIMESTAMP
        elif column.type.python_type is int:
            schema = {"type": "integer"}
        elif column.type.python_type is Decimal:
            schema = {"type": "number"}
        else:
            schema = {"type": "string"}
        nullable = getattr(column, "nullable", False) and name not in dataset.json_columns
        properties[name] = _nullable(schema) if nullable else schema
    return _object(properties)


def _rows_route(dataset: Dataset) -> dict:
    bound = f"{dataset.timestamp.name}, a day of REPORT_TIMEZONE"
    return {"get": _admin(
        f"The {dataset.name} of an export with these filters, a page at a time (the dashboard's drill-down), "
        f"in the export's order ({dataset.timestamp.name}, then id)",
        {"200": _json(_ref(f"{dataset.name.title()}Page"), "A page"),
         "400": _error("validation_error: an unknown, repeated or bad parameter (as the export's filters), "
                       "a bad `limit` or `cursor`"),
         "422": _error("business_rule_violation: `from` after `to`, or more than 365 days apart")},
        tags=("dashboard",),
        parameters=[
            _query("from", _API_DAY, f"First day of {bound}, inclusive", required=True),
            _query("to", _API_DAY, "Last day, inclusive; at most 365 days after `from`", required=True),
            *[_query(name, _filter_parameter(rule), f"Only rows whose {name} is this (as the export's filter)")
              for name, rule in dataset.filters.items()],
            _query("limit", {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX,
                             "default": PAGE_LIMIT_DEFAULT}, "Page size"),
            _query("cursor", _CURSOR, "`next_cursor` of the previous page"),
        ],
    )}


def _export_request(dataset: Dataset) -> dict:
    bound = f"{dataset.timestamp.name}, days of REPORT_TIMEZONE, inclusive; {EARLIEST_DAY} to {LATEST_DAY}"
    filters = {
        "type": "object",
        "properties": {
            "from": {**_API_DAY, "description": f"First day of {bound}"},
            "to": {**_API_DAY, "description": "Last day; at most 365 days after `from`"},
            **{name: _filter_value(rule) for name, rule in dataset.filters.items()},
        },
        "additionalProperties": False,
    }
    if dataset.range_required:
        filters["required"] = ["from", "to"]
    else:
        filters["dependentRequired"] = {"from": ["to"], "to": ["from"]}
    return {
        "title": dataset.name,
        "type": "object",
        "required": ["dataset", "filters"] if dataset.range_required else ["dataset"],
        "properties": {
            "type": {"enum": list(EXPORT_TYPES), "default": "csv"},
            "dataset": {"const": dataset.name},
            "filters": filters,
            "columns": {"type": "array", "minItems": 1, "uniqueItems": True,
                        "items": {"enum": list(dataset.columns)},
                        "description": "Columns in the order wanted; all of them, in this order, when left out"},
            "compression": {"enum": list(EXPORT_COMPRESSIONS), "default": "none",
                            "description": "gzip: csv, json and jsonl only (`<id>.<type>.gz`)"},
            "excel": {"type": "boolean", "default": False,
                      "description": "csv only: a UTF-8 byte order mark first, so Excel reads it as UTF-8"},
        },
        "additionalProperties": False,
        # What the schema cannot say with `properties` alone: the combinations refused with 400.
        "allOf": [
            {"if": {"properties": {"compression": {"const": "gzip"}}, "required": ["compression"]},
             "then": {"properties": {"type": {"enum": [f.name for f in FORMATS.values() if f.compressible]}},
                      "required": ["type"]}},
            {"if": {"properties": {"excel": {"const": True}}, "required": ["excel"]},
             "then": {"properties": {"type": {"const": "csv"}}}},
        ],
    }


_EXPORT_STATUS_FIELDS = {  # what each status adds to the fields every export has
    ExportStatus.PREPARING: {"rows_written": {**_COUNT, "description": f"updated every {PROGRESS_EVERY:,} rows"},
                             "progress_percent": {"type": "integer", "minimum": 0, "maximum": 99,
                                                  "description": "rows_written against estimated_rows"}},
    ExportStatus.READY: {
        "actual_rows": _COUNT,
        "download_url": {"type": "string", "pattern": f"^{DOWNLOAD_PATH}/",
                         "description": "the signed link, valid until `expires_at`; no token needed"},
        "expires_at": _TIMESTAMP,
        "file_size": {**_COUNT, "description": "bytes"},
        "completed_at": _TIMESTAMP,
    },
    ExportStatus.FAILED: {"error_message": {"type": "string"}, "completed_at": _TIMESTAMP},
    ExportStatus.EXPIRED: {"actual_rows": _COUNT, "download_url": {"type": "null"}, "expires_at": _TIMESTAMP,
                "completed_at": _TIMESTAMP},
    ExportStatus.CANCELED: {"completed_at": _TIMESTAMP},
}


def _export_status(status: str, extra: dict, more: dict | None = None) -> dict:
    return {"title": str(status), **_object({
        "export_id": _ULID,
        "status": {"const": str(status)},
        "type": {"enum": list(EXPORT_TYPES)},
        "dataset": {"enum": list(DATASETS)},
        "filters": {"type": "object", "description": "as validated: dates as YYYY-MM-DD, user ids as numbers"},
        "columns": _nullable({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        "compression": {"enum": list(EXPORT_COMPRESSIONS)},
        "excel": {"type": "boolean"},
        "estimated_rows": {**_COUNT, "maximum": MAX_EXPORT_MAX_ROWS, "description": "at most EXPORT_MAX_ROWS"},
        "created_at": _TIMESTAMP,
        **extra,
        **(more or {}),
    })}


def _without_link(extra: dict) -> dict:
    return {name: schema for name, schema in extra.items() if name != "download_url"}


_EVENT_TYPE = {"enum": list(webhooks.EVENT_TYPES.values())}
_NOTIFICATIONS = {"notifications": {
    "type": "array", "description": "every attempt at delivering the export's webhook events, oldest first; "
    "empty when EXPORT_WEBHOOK_URL is unset or nothing was sent yet",
    "items": _object({
        "event": _EVENT_TYPE,
        "attempt": {"type": "integer", "minimum": 1},
        "status_code": _nullable({"type": "integer", "minimum": 100, "maximum": 599}),
        "error": _nullable({"type": "string", "description": "`timeout`, `connection refused`, ..."}),
        "attempted_at": _TIMESTAMP,
        "delivered": {"type": "boolean", "description": "the receiver answered 2xx"},
    }),
}}
_DOWNLOADS = {
    "downloads": {
        "type": "array", "maxItems": LISTED_DOWNLOADS,
        "description": f"the last {LISTED_DOWNLOADS} requests to its signed link whose signature checked out, "
                       "newest first",
        "items": _object({
            "downloaded_at": _TIMESTAMP,
            "client_address": _nullable({"type": "string"}),
            "user_agent": _nullable({"type": "string", "maxLength": USER_AGENT_CHARS}),
            "bytes_sent": _nullable({**_COUNT, "description": "what went out (behind nginx: what nginx was told "
                                                              "to send); null for a redirect"}),
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "range": _nullable({"type": "string", "maxLength": RANGE_CHARS, "description": "the Range asked for"}),
        }),
    },
    "download_count": {**_COUNT, "description": "every download recorded"},
}


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }},
    },
    "Overview": {"type": "object", "required": list(_KPIS), "properties": _KPIS, "additionalProperties": False},
    "Trend": {
        "type": "object",
        "required": ["series"],
        "properties": {"series": {"type": "array", "items": {
            "type": "object",
            "required": ["date", *_KPIS],
            "properties": {"date": {**_DAY, "description": "the bucket's first day: the day, "
                                    "its week's Monday or its month's 1st"}, **_KPIS},
            "additionalProperties": False,
        }}},
    },
    "ByFeature": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {
            "type": "object",
            "required": ["feature", "credited", "debited"],
            "properties": {"feature": {"type": "string"}, "credited": _COUNT, "debited": _COUNT},
            "additionalProperties": False,
        }}},
    },
    "Composition": {
        "type": "object",
        "required": ["regular", "promo"],
        "properties": {"regular": _PERCENT, "promo": _PERCENT},
        "additionalProperties": False,
    },
    "TopUsers": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "maxItems": MAX_LIMIT, "items": {
            "type": "object",
            "required": ["user_id", "username", "email"],
            "properties": {
                "user_id": {"type": "integer", "minimum": 1},
                "username": {"type": "string"},
                "email": {"type": "string"},
                "spend": _COUNT,
                "earn": _COUNT,
                "net": {"type": "integer"},
            },
            "minProperties": 4,
            "maxProperties": 4,
            "additionalProperties": False,
        }}},
    },
    "Purchases": {
        "type": "object",
        "required": ["total_purchases", "total_tokens", "total_revenue", "avg_tokens_per_purchase",
                     "avg_revenue_per_purchase", "unique_buyers"],
        "properties": {
            "total_purchases": _COUNT,
            "total_tokens": _COUNT,
            "total_revenue": _MONEY,
            "avg_tokens_per_purchase": {"type": "number", "minimum": 0, "description": "2 decimals"},
            "avg_revenue_per_purchase": _MONEY,
            "unique_buyers": _COUNT,
        },
        "additionalProperties": False,
    },
    "Promotions": {
        "type": "object",
        "required": ["total_referrers", "total_referrals", "successful_referrals", "total_bonus_awarded",
                     "conversion_rate"],
        "properties": {
            "total_referrers": _COUNT,
            "total_referrals": _COUNT,
            "successful_referrals": _COUNT,
            "total_bonus_awarded": _COUNT,
            "conversion_rate": _PERCENT,
        },
        "additionalProperties": False,
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
    "Meta": {"type": "object", "additionalProperties": False, "required": ["report_timezone", "today", "locale"],
             "properties": {"report_timezone": {"type": "string"}, "today": {"type": "string", "format": "date"},
                            "locale": {"type": "string", "description": "BCP 47 locale the zone's numbers are read in"}}},
    "Campaigns": {"type": "object", "additionalProperties": False, "required": ["items"], "properties": {
        "items": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "name", "starts_at", "ends_at"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                           "starts_at": {"type": "string", "format": "date-time"},
                           "ends_at": {"type": ["string", "null"], "format": "date-time"}}}}}},
    "Ready": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "checks": {"type": "object", "properties": {"database": {"type": "string"},
                                                        "redis": {"type": "string"}}},
        },
    },
    "EtlRun": _object({
        "id": {"type": "integer", "minimum": 1},
        "trigger": {"type": "string", "description": "who started it: scheduler, cli, api, cli-enqueue or fold-in"},
        "status": {"enum": list(ETL_RUN_STATUSES)},
        "queued_at": _nullable({**_TIMESTAMP, "description": "when it was asked for through the API or `etl --enqueue`"}),
        "started_at": _nullable({**_TIMESTAMP, "description": "null while queued"}),
        "finished_at": _nullable(_TIMESTAMP),
        "first_date": _nullable(_DAY),
        "last_date": _nullable(_DAY),
        "dates_processed": _COUNT,
        "error_message": _nullable({"type": "string"}),
    }),
    "EtlStatus": _object({
        "timezone": {"type": "string", "description": "REPORT_TIMEZONE, whose calendar days these are"},
        "earliest_ledger_date": _nullable({**_DAY, "description": "the day of the first ledger row"}),
        "materialized_through": _nullable({**_DAY, "description": "every day from the earliest ledger "
                                           "day to this one is materialized"}),
        "latest_materialized_date": _nullable(_DAY),
        "missing_dates": {**_COUNT, "description": "days from the earliest ledger day to yesterday "
                          "that are not materialized"},
        "pending_changed_dates": {"type": "array", "items": _DAY, "description": "stored days that captured "
                                  "changes have made dirty: answered from the base tables until folded in"},
        "pending_changes": {**_COUNT, "description": "captured changes not folded in yet"},
        "oldest_pending_change_age_seconds": _nullable({**_COUNT, "description": "age of the oldest of them"}),
        "last_fold_in_at": _nullable({**_TIMESTAMP, "description": "when the last fold-in that materialized "
                                      "a day finished"}),
        "last_run": _nullable(_ref("EtlRun")),
        "last_success_at": _nullable({**_TIMESTAMP, "description": "when the last successful run finished"}),
    }),
    "EtlRunRequest": {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["date"], "properties": {"date": _DAY}},
        {"type": "object", "additionalProperties": False, "required": ["from", "to"],
         "properties": {"from": _DAY, "to": _DAY}},
    ]},
    "EtlRunList": _object({
        "runs": {"type": "array", "maxItems": 100, "items": _ref("EtlRun")},
        "next_cursor": _nullable({"type": "string", "pattern": "^[0-9]+$",
                                  "description": "`cursor` of the next page; null on the last"}),
    }),
    "TransactionsPage": _object({
        "transactions": {"type": "array", "maxItems": PAGE_LIMIT_MAX, "items": _row(TRANSACTIONS)},
        "next_cursor": _nullable({**_CURSOR, "description": "`cursor` of the next page; null on the last"}),
    }),
    "ExportRequest": {"oneOf": [_export_request(dataset) for dataset in DATASETS.values()]},
    "Export": {"oneOf": [_export_status(status, extra, _NOTIFICATIONS)
                         for status, extra in _EXPORT_STATUS_FIELDS.items()]},
    "ExportDetail": {"oneOf": [_export_status(status, extra, {**_NOTIFICATIONS, **_DOWNLOADS})
                               for status, extra in _EXPORT_STATUS_FIELDS.items()]},
    "ExportEvent": _object({
        "id": {"type": "string", "pattern": "^evt_[0-9A-HJKMNP-TV-Z]{26}$", "description": "unique per event"},
        "type": _EVENT_TYPE,
        "created": {"type": "integer", "description": "unix seconds of the transition"},
        "data": _object({"export": {"oneOf": [
            _export_status(status, _without_link(extra)) for status, extra in _EXPORT_STATUS_FIELDS.items()
            if status != ExportStatus.PREPARING]}}),
    }),
    "ExportList": _object({
        "exports": {"type": "array", "maxItems": LIST_LIMIT_MAX, "items": _ref("Export")},
        "next_cursor": _nullable({**_ULID, "description": "`cursor` of the next page; null on the last"}),
    }),
}

_AUTH_ERRORS = {
    "401": _error("unauthorized: no valid bearer token"),
    "403": _error("forbidden: the token lacks the admin scope"),
}
_ANALYTICS_ERRORS = {
    "400": _error("validation_error: a missing, malformed or unknown parameter, or one given twice"),
    **_AUTH_ERRORS,
    "422": _error("business_rule_violation: `from` after `to`, or more than 365 days apart"),
}


def _analytics(summary: str, schema: str, options: list[dict], extra_errors: dict | None = None) -> dict:
    return {"get": {
        "summary": summary,
        "tags": ["analytics"],
        "security": [{"bearerAuth": []}],
        "parameters": [*_RANGE, *options],
        "responses": {"200": {**_json(_ref(schema), "The answer"), "headers": {"X-Data-Fresh-As-Of": _header(
            _TIMESTAMP, "The answer holds every change committed before this instant (stored days a change "
            "has made dirty are answered from the base tables until folded in)")}},
            **_ANALYTICS_ERRORS, **(extra_errors or {})},
    }}


def _admin(summary: str, responses: dict, tags: tuple[str, ...] = ("exports",), **operation) -> dict:
    return {"summary": summary, "tags": list(tags), "security": [{"bearerAuth": []}], **operation,
            "responses": {**responses, **_AUTH_ERRORS}}




def _retry_after(required: bool) -> dict:
    return {"Retry-After": _header({"type": "integer", "const": RETRY_AFTER_SECONDS},
                                   "Seconds to wait before polling again; sent while `preparing`", required)}


_EXPORT_ID = _path("export_id", _ULID, "The id from the create answer")
_FILE_SUFFIX = f"\\.({'|'.join(EXPORT_TYPES)})(\\.gz)?"
_DOWNLOAD_NAME = {"type": "string", "pattern": f"^[0-7][0-9A-HJKMNP-TV-Z]{{25}}{_FILE_SUFFIX}$",
                  "description": "<export id>.<type>, `.gz` added when gzipped"}
_DOWNLOAD_FILE = {
    "description": "The file, streamed, as an attachment named <dataset>_<created, local YYYYmmddHHMMSS>.<type>[.gz]",
    "headers": {
        "Content-Disposition": _header(
            {"type": "string", "pattern": f"^attachment; filename=\"[a-z]+_[0-9]{{14}}{_FILE_SUFFIX}\"$"},
            "attachment; filename=\"<dataset>_<YYYYmmddHHMMSS>.<type>[.gz]\""),
        "Content-Length": _header({"type": "integer", "minimum": 0}, "The file's size in bytes"),
    },
    "content": {
        **{f.content_type.split(";")[0]: {"schema": {"type": "string"}} for f in FORMATS.values()},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        GZIP_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
    },
}
_DOWNLOAD_REDIRECT = {
    "description": "With S3 storage (EXPORT_STORAGE=s3://...): the file is at `Location`, a presigned URL of the "
                   "object that works for a few minutes",
    "headers": {"Location": _header({"type": "string", "format": "uri"}, "The presigned S3 URL")},
}

_VALIDATORS = {
    "ETag": _header({"type": "string", "pattern": '^"[0-9A-Z]{26}-[0-9]+"$'}, "A strong validator: export id and size"),
    "Last-Modified": _header({"type": "string"}, "When the file was completed (HTTP date)"),
    "Accept-Ranges": _header({"const": "bytes"}, "A single byte range may be asked for"),
}


def _download(method: str) -> dict:
    """The signed download route: GET sends the file (or a range of it), HEAD its headers alone (`curl -I`)."""
    headers = {**_DOWNLOAD_FILE["headers"], **_VALIDATORS}
    ranged = {**headers, "Content-Range": _header({"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"},
                                                  "bytes <first>-<last>/<size>")}
    if method == "get":
        whole, part = {**_DOWNLOAD_FILE, "headers": headers}, {**_DOWNLOAD_FILE, "headers": ranged,
                                                               "description": "The byte range asked for"}
    else:
        whole = {"description": "The headers of the GET, no body", "headers": headers}
        part = {"description": "The headers of the ranged GET, no body", "headers": ranged}
    return {
        "summary": ("Download an export's file through its signed link (the link is the credential)" if method == "get"
                    else "The headers of a download without the file (`curl -I`)"),
        "tags": ["exports"],
        "security": [],
        "parameters": [
            _path("file_name", _DOWNLOAD_NAME, "The export's file"),
            _query("expires", {"type": "integer", "minimum": 0, "maximum": 10**12 - 1}, "Unix seconds; the link's expiry",
                   required=True),
            _query("signature", {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                   "HMAC-SHA256 of the export id and `expires` under DOWNLOAD_SECRET", required=True),
            {"name": "Range", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100},
             "description": "One range, `bytes=a-b`, `bytes=a-` or `bytes=-n`; several ranges, or one not "
                            "understood, get the whole file"},
            {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100},
             "description": "The file's ETag or Last-Modified: any other value gets the whole file"},
        ],
        "responses": {
            "200": whole,
            "206": part,
            "303": _DOWNLOAD_REDIRECT,
            "404": _error("not_found: a tampered, expired or unknown link, or an export no longer ready "
                          "(one message for all)"),
            "416": {**_error("range_not_satisfiable: the range starts past the end of the file"), "headers": {
                "Content-Range": _header({"type": "string", "pattern": "^bytes \\*/[0-9]+$"}, "bytes */<size>")}},
        },
    }


EXPORT_PATHS = {
    f"{API}/exports": {
        "post": _admin(
            "Record an export and queue its generation",
            {
                "201": {**_json(_ref("Export"), "Recorded as `preparing`; poll `Location`"),
                        "headers": {"Location": _header({"type": "string", "pattern": f"^{API}/exports/"},
                                                        "The export's status route"),
                                    **_retry_after(required=True)}},
                "200": {**_json(_ref("Export"), "No new job: the export first made with this Idempotency-Key "
                                "(24 h), or the admin's equal export still `preparing` or `ready`"),
                        "headers": {"Location": _header({"type": "string", "pattern": f"^{API}/exports/"},
                                                        "The export's status route"),
                                    **_retry_after(required=False)}},
                "400": _error("validation_error: a body that is not a JSON object; an unknown key, type, dataset, "
                              "filter, value or column; a bad date; a bad Idempotency-Key"),
                "422": _error(f"business_rule_violation: `from` after `to`, more than 365 days apart, or more "
                              f"than EXPORT_MAX_ROWS (100,000 by default) estimated rows, or more than an XLSX sheet holds "
                              f"({XLSX_MAX_ROWS:,}); an Idempotency-Key used with another request"),
                "429": {**_error("rate_limited: EXPORT_MAX_ACTIVE_PER_ADMIN exports already preparing"),
                        "headers": {"Retry-After": _header({"type": "integer", "minimum": 1},
                                                           "Seconds to wait before asking again")}},
                "413": _error("payload_too_large: a body over MAX_REQUEST_BODY_BYTES (64 KB)"),
                "503": _error("service_unavailable: the job queue is unreachable (the export is recorded as failed), "
                              "or the database is"),
            },
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("ExportRequest")}}},
            parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
                         "description": "The same key (24 h) returns the export first made with it"}],
        ),
        "get": _admin(
            "The caller's exports, newest first",
            {"200": _json(_ref("ExportList"), "A page"),
             "400": _error("validation_error: a bad `limit` or `cursor`")},
            parameters=[
                _query("limit", {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX,
                                 "default": LIST_LIMIT_DEFAULT}, "Page size"),
                _query("cursor", _ULID, "`next_cursor` of the previous page"),
            ],
        ),
    },
    f"{API}/exports/{{export_id}}": {"get": _admin(
        "One of the caller's exports, with its notifications and downloads",
        {"200": {**_json(_ref("ExportDetail"), "Its status"), "headers": _retry_after(required=False)},
         "400": _error("validation_error: `export_id` is not a ULID"),
         "404": _error("not_found: no such export, or another admin's")},
        parameters=[_EXPORT_ID],
    ), "delete": _admin(
        "Cancel one of the caller's exports: `preparing` becomes `canceled` (its worker stops), `ready` becomes "
        "`expired` and its file is deleted; any other status stays (a second cancel changes nothing)",
        {"200": _json(_ref("ExportDetail"), "Its status after the cancel"),
         "400": _error("validation_error: `export_id` is not a ULID"),
         "404": _error("not_found: no such export, or another admin's")},
        parameters=[_EXPORT_ID],
    )},
    f"{DOWNLOAD_PATH}/{{file_name}}": {"get": _download("get"), "head": _download("head")},
}


PATHS = {
    "/healthz": {"get": {"summary": "Liveness", "tags": ["operations"], "security": [],
                         "responses": {"200": _json(_ref("Health"), "The process is up")}}},
    "/readyz": {"get": {"summary": "Readiness: database and Redis reachable", "tags": ["operations"],
                        "security": [],
                        "responses": {"200": _json(_ref("Ready"), "Ready"),
                                      "503": _json(_ref("Ready"), "A dependency is unreachable")}}},
    "/metrics": {"get": {"summary": "Prometheus metrics of the host's processes (METRICS_ALLOW addresses only, "
                                    "else 404)", "tags": ["operations"], "security": [],
                         "responses": {"200": {"description": "Prometheus text format 0.0.4",
                                               "content": {"text/plain": {"schema": {"type": "string"}}}},
                                       "404": _error("not_found: the caller's address is not in METRICS_ALLOW")}}},
    PATH: {"get": {"summary": "This document", "tags": ["operations"], "security": [],
                   "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")}}},
    "/admin/": {"get": {"summary": "The admin dashboard page (it holds no data)", "tags": ["dashboard"],
                        "security": [], "responses": {"200": {"description": "The page",
                                                              "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    f"{API}/meta": {"get": _admin("The report time zone, its current day (the dashboard's presets) and its number locale",
                                  {"200": _json(_ref("Meta"), "The zone and its today")}, tags=("dashboard",))},
    f"{API}/campaigns": {"get": _admin("Every promo campaign, newest start first (the dashboard's selector)",
                                       {"200": _json(_ref("Campaigns"), "The campaigns")}, tags=("dashboard",))},
    f"{API}/tokens/overview": _analytics("Token KPIs over the range", "Overview", [
        _query("feature", _TEXT, "Only ledger rows with this reason (compared exactly); revenue is 0 "
               "unless it is `purchase`"),
        _query("token_type", {"enum": list(TOKEN_TYPES)}, "Only this token type; revenue is 0 for promo"),
    ]),
    f"{API}/tokens/trend": _analytics("KPIs per day, week (by Monday) or month (by the 1st)", "Trend", [
        _query("granularity", {"enum": list(GRANULARITIES)}, "Bucket size", required=True),
    ]),
    f"{API}/tokens/by-feature": _analytics("Credited and debited per feature, by feature name", "ByFeature", []),
    f"{API}/tokens/composition": _analytics("Share of token volume by token type", "Composition", []),
    f"{API}/users/top": _analytics("Top users by spend, earn or net", "TopUsers", [
        _query("metric", {"enum": list(METRICS)}, "spend = debited, earn = credited, net = credited - debited",
               required=True),
        _query("limit", {"type": "integer", "minimum": MIN_LIMIT, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
               "How many users"),
    ]),
    f"{API}/purchases": _analytics("Paid purchases by paid_at", "Purchases", []),
    f"{API}/promotions": _analytics("Referrals created in the range", "Promotions", [
        _query("campaign_id", _TEXT, "Only this campaign's referrals"),
    ], {"404": _error("not_found: no campaign with this id")}),
    f"{API}/status": {"get": _admin("How far the materialized data reaches, and how the ETL runs went",
                                    {"200": _json(_ref("EtlStatus"), "The ETL's status")}, tags=("etl",))},
    f"{API}/etl-runs": {
        "post": _admin(
            "Queue an ETL run of past days (the CLI's rules); joins a run still queued",
            {"202": {**_json(_ref("EtlRun"), "Queued (or joined); poll `Location`"),
                     "headers": {"Location": _header({"type": "string", "pattern": f"^{API}/etl-runs/"},
                                                     "The run's route")}},
             "400": _error("validation_error: not a JSON object, an unknown field, date with from/to, or a bad date"),
             "422": _error("business_rule_violation: `from` after `to`, or a day that has not ended"),
             "503": _error("service_unavailable: the job queue is unreachable (the run is recorded as failed)")},
            tags=("etl",),
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("EtlRunRequest")}}},
        ),
        "get": _admin(
            "ETL runs, newest first",
            {"200": _json(_ref("EtlRunList"), "A page"),
             "400": _error("validation_error: a bad `limit` or `cursor`")},
            tags=("etl",),
            parameters=[
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"),
                _query("cursor", {"type": "integer", "minimum": 1, "maximum": 2**32 - 1},
                       "`next_cursor` of the previous page"),
            ],
        ),
    },
    f"{API}/etl-runs/{{run_id}}": {"get": _admin(
        "One ETL run, with the days done so far",
        {"200": _json(_ref("EtlRun"), "The run"),
         "400": _error("validation_error: `run_id` is not a whole number"),
         "404": _error("not_found: no such run")},
        tags=("etl",),
        parameters=[_path("run_id", {"type": "integer", "minimum": 1, "maximum": 2**32 - 1}, "The run's id")],
    )},
    f"{API}/transactions": _rows_route(TRANSACTIONS),
    **EXPORT_PATHS,
}

# What any route may answer beside its own: the limits of nginx or gunicorn on the request line
# and headers, and the database or (behind nginx) the API being down.
_STACK_ERRORS = {
    "414": _error("uri_too_long: a request line over the limit (4 KB behind nginx)"),
    "431": _error("headers_too_large: a request header over the limit (4 KB behind nginx)"),
    "503": _error("service_unavailable: the database is unreachable, or the API is down; retry after Retry-After"),
}


def _with_stack_errors(paths: dict) -> dict:
    for item in paths.values():
        for operation in item.values():
            for status, response in _STACK_ERRORS.items():
                operation["responses"].setdefault(status, response)
    return paths


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "wallet-analytics",
        "version": "1.0.0",
        "description": "Token analytics and exports of the wallet platform. Every error has the shape "
                       "{\"error\": {\"code\", \"message\"}}; the analytics routes reject unknown query "
                       "parameters.",
    },
    "paths": _with_stack_errors(PATHS),
    "webhooks": {"exportEvent": {"post": {
        "summary": "An export became ready, failed, canceled or expired (sent to EXPORT_WEBHOOK_URL)",
        "tags": ["exports"],
        "parameters": [{"name": "Wallet-Signature", "in": "header", "required": True,
                        "schema": {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"},
                        "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" under "
                                       "WEBHOOK_SECRET>, as Stripe's"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ExportEvent")}}},
        "responses": {"2XX": {"description": "Delivered; anything else (or no answer within "
                                             "EXPORT_WEBHOOK_TIMEOUT_SECONDS) is tried again, for up to 24 h"}},
    }}},
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "HS256 JWT with `sub`, `exp` and `admin` in `scope`"}},
    },
}


class Document:
    public = True

    def on_get(self, req, resp):
        resp.media = DOCUMENT
