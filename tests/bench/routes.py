"""Every analytics route the benchmark times, each with the plain SQL a user could run instead.

The baselines answer the same question straight from the base tables, the way the spec's
real-time view does: a GROUP BY over `wallet_ledger` for the whole range, local days taken as
`occurred_at` shifted by the report zone's UTC offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

API = "/api/v1/admin/analytics"
RANGE_DAYS = (7, 30, 365)
TOP_USERS_LIMIT = 20

CREDITED = "SUM(CASE WHEN direction = 'credit' THEN amount ELSE 0 END)"
DEBITED = "SUM(CASE WHEN direction = 'debit' THEN amount ELSE 0 END)"
IN_RANGE = "occurred_at >= :start AND occurred_at < :end"
LOCAL_TIME = "(occurred_at + INTERVAL :offset_minutes MINUTE)"
BUCKETS = {
    "daily": f"DATE{LOCAL_TIME}",
    "weekly": f"DATE{LOCAL_TIME} - INTERVAL WEEKDAY{LOCAL_TIME} DAY",
    "monthly": f"DATE_FORMAT{LOCAL_TIME[:-1]}, '%Y-%m-01')",
}
TOP_USER_VALUES = {
    "spend": DEBITED,
    "earn": CREDITED,
    # amount is UNSIGNED: subtracting in unsigned arithmetic would overflow on a negative net.
    "net": "SUM(CASE WHEN direction = 'credit' THEN CAST(amount AS SIGNED) ELSE -CAST(amount AS SIGNED) END)",
}
PAID_REVENUE = ("SELECT COALESCE(SUM(amount_inr), 0) FROM purchases "
                "WHERE status = 'paid' AND paid_at >= :start AND paid_at < :end")


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    baseline_sql: str
    params: dict = field(default_factory=dict)
    # The p95 target over 365 days, in ms.
    target_p95_ms: float = 50


def _trend_sql(bucket: str) -> str:
    paid_bucket = bucket.replace("occurred_at", "paid_at")
    return (
        f"SELECT l.bucket, l.credited, l.debited, l.credited - l.debited, l.active_users, COALESCE(p.revenue, 0) "
        f"FROM (SELECT {bucket} AS bucket, {CREDITED} AS credited, {DEBITED} AS debited, "
        f"COUNT(DISTINCT user_id) AS active_users FROM wallet_ledger WHERE {IN_RANGE} GROUP BY bucket) l "
        f"LEFT JOIN (SELECT {paid_bucket} AS bucket, SUM(amount_inr) AS revenue FROM purchases "
        f"WHERE status = 'paid' AND paid_at >= :start AND paid_at < :end GROUP BY bucket) p ON p.bucket = l.bucket "
        f"ORDER BY l.bucket"
    )


def _top_users_sql(value: str) -> str:
    return (
        f"SELECT u.id, u.username, u.email, t.value FROM (SELECT user_id, {value} AS value FROM wallet_ledger "
        f"WHERE {IN_RANGE} GROUP BY user_id ORDER BY value DESC, user_id LIMIT {TOP_USERS_LIMIT}) t "
        f"JOIN users u ON u.id = t.user_id ORDER BY t.value DESC, u.id"
    )


ROUTES = (
    Route("overview", f"{API}/tokens/overview",
          f"SELECT {CREDITED}, {DEBITED}, COUNT(DISTINCT user_id), ({PAID_REVENUE}) FROM wallet_ledger WHERE {IN_RANGE}"),
    *(Route(f"trend {granularity}", f"{API}/tokens/trend", _trend_sql(bucket), {"granularity": granularity})
      for granularity, bucket in BUCKETS.items()),
    Route("by-feature", f"{API}/tokens/by-feature",
          f"SELECT reason, {CREDITED}, {DEBITED} FROM wallet_ledger WHERE {IN_RANGE} GROUP BY reason"),
    Route("composition", f"{API}/tokens/composition",
          f"SELECT token_type, SUM(amount) FROM wallet_ledger WHERE {IN_RANGE} GROUP BY token_type"),
    *(Route(f"users/top {metric}", f"{API}/users/top", _top_users_sql(value),
            {"metric": metric, "limit": TOP_USERS_LIMIT}, target_p95_ms=300)
      for metric, value in TOP_USER_VALUES.items()),
    Route("purchases", f"{API}/purchases",
          "SELECT COUNT(*), SUM(tokens), SUM(amount_inr), AVG(tokens), AVG(amount_inr), COUNT(DISTINCT user_id) "
          "FROM purchases WHERE status = 'paid' AND paid_at >= :start AND paid_at < :end"),
    Route("promotions", f"{API}/promotions",
          "SELECT COUNT(DISTINCT referrer_user_id), COUNT(*), SUM(status = 'credited'), "
          "SUM(CASE WHEN status = 'credited' THEN bonus_awarded ELSE 0 END) "
          "FROM referrals WHERE created_at >= :start AND created_at < :end"),
)
OVERVIEW = ROUTES[0]
