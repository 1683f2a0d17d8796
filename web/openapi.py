"""The OpenAPI 3.1 document of every route, served at GET /api/v1/openapi.json (public: it
describes the API's shape, nothing of its data, so tools can fetch it without a token)."""

from __future__ import annotations

from core.analytics.params import MAX_TEXT_LENGTH, MIN_LIMIT
from core.analytics.tokens import GRANULARITIES
from core.analytics.users import DEFAULT_LIMIT, MAX_LIMIT, METRICS
from core.dates import EARLIEST_DAY, LATEST_DAY
from core.tables import TOKEN_TYPES

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


_DAY = {"type": "string", "format": "date"}
_RANGE = [
    _query("from", _DAY, f"First day (YYYY-MM-DD, a calendar day of REPORT_TIMEZONE), inclusive; "
           f"{EARLIEST_DAY} to {LATEST_DAY}", required=True),
    _query("to", _DAY, "Last day, inclusive; at most 365 days after `from`", required=True),
]
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH}
_COUNT = {"type": "integer", "minimum": 0}
_MONEY = {"type": "number", "minimum": 0, "description": "INR, 2 decimals"}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100, "description": "2 decimals"}

_KPIS = {
    "credited": _COUNT,
    "debited": _COUNT,
    "net": {"type": "integer", "description": "credited - debited"},
    "revenue_in_inr": _MONEY,
    "active_users": {**_COUNT, "description": "distinct users with ledger activity in the period"},
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
    "Ready": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "checks": {"type": "object", "properties": {"database": {"type": "string"},
                                                        "redis": {"type": "string"}}},
        },
    },
}

_ANALYTICS_ERRORS = {
    "400": _error("validation_error: a missing, malformed or unknown parameter, or one given twice"),
    "401": _error("unauthorized: no valid bearer token"),
    "403": _error("forbidden: the token lacks the admin scope"),
    "422": _error("business_rule_violation: `from` after `to`, or more than 365 days apart"),
}


def _analytics(summary: str, schema: str, options: list[dict], extra_errors: dict | None = None) -> dict:
    return {"get": {
        "summary": summary,
        "tags": ["analytics"],
        "security": [{"bearerAuth": []}],
        "parameters": [*_RANGE, *options],
        "responses": {"200": _json(_ref(schema), "The answer"), **_ANALYTICS_ERRORS, **(extra_errors or {})},
    }}


PATHS = {
    "/healthz": {"get": {"summary": "Liveness", "tags": ["operations"], "security": [],
                         "responses": {"200": _json(_ref("Health"), "The process is up")}}},
    "/readyz": {"get": {"summary": "Readiness: database and Redis reachable", "tags": ["operations"],
                        "security": [],
                        "responses": {"200": _json(_ref("Ready"), "Ready"),
                                      "503": _json(_ref("Ready"), "A dependency is unreachable")}}},
    PATH: {"get": {"summary": "This document", "tags": ["operations"], "security": [],
                   "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")}}},
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
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "wallet-analytics",
        "version": "1.0.0",
        "description": "Token analytics of the wallet platform. Every error has the shape "
                       "{\"error\": {\"code\", \"message\"}}; unknown query parameters are rejected.",
    },
    "paths": PATHS,
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
