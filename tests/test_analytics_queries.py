"""How the analytics read: a bounded number of queries whatever the range's length, and none
at all for a request that fails validation."""

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import falcon
import falcon.testing
import sqlalchemy as sa

from core import analytics, tables
from core.analytics import params
from core.materialize import materialize_day
from tests.factories import add_ledger, add_purchase, add_user
from web import errors
from web.resources.analytics import Question

KOLKATA = ZoneInfo("Asia/Kolkata")
FIRST, LAST = date(2025, 9, 1), date(2025, 11, 9)


@contextmanager
def _counted(engine):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


# What the process keeps between requests (core.analytics.cache): no warm request reads it.
CACHED = ("analytics_daily_users.users", "analytics_daily_breakdown.users", "analytics_daily_purchases.buyers",
          "analytics_daily_referrals.referrers", "FROM analytics_user_monthly", "FROM analytics_user_daily")


def test_a_long_materialized_range_takes_a_handful_of_queries(db):
    add_user(db, 1)
    add_ledger(db, 1, "debit", 5, "2025-09-02 06:00:00", reason="chapter_generation")
    add_ledger(db, 1, "credit", 7, "2025-11-09 06:00:00")  # the last day, left live
    add_purchase(db, 1, "2025-11-09 06:00:00", tokens=7, amount_inr="7.00")
    day = FIRST
    while day < LAST:
        materialize_day(db, day, KOLKATA)
        day += timedelta(days=1)
    questions = {
        "overview": lambda conn: analytics.token_overview(conn, FIRST, LAST, KOLKATA),
        "overview filtered": lambda conn: analytics.token_overview(conn, FIRST, LAST, KOLKATA, feature="purchase"),
        "trend daily": lambda conn: analytics.token_trend(conn, FIRST, LAST, KOLKATA, "daily"),
        "by feature": lambda conn: analytics.tokens_by_feature(conn, FIRST, LAST, KOLKATA),
        "composition": lambda conn: analytics.token_composition(conn, FIRST, LAST, KOLKATA),
        "top users": lambda conn: analytics.top_users(conn, FIRST, LAST, KOLKATA, "spend"),
        "purchases": lambda conn: analytics.purchase_analytics(conn, FIRST, LAST, KOLKATA),
        "promotions": lambda conn: analytics.promotion_analytics(conn, FIRST, LAST, KOLKATA),
    }
    for name, ask in questions.items():
        with db.connect() as conn, _counted(db) as cold:
            ask(conn)
        with db.connect() as conn, _counted(db) as warm:
            ask(conn)
        # The first ask also fetches what the process then keeps: the days' bitmaps, and for top
        # users the per-user sums of each month or day it reads (three here). By feature also
        # counts the live part's distinct reasons (core.aggregates: grouped byte for byte if needed).
        extra = 1 if name == "by feature" else 0
        assert len(cold) <= (7 if name == "top users" else 5) + extra, (name, cold)
        assert len(warm) <= 4 + extra and not any(cached in statement for statement in warm for cached in CACHED), \
            (name, warm)


class _UnreachableEngine:
    def connect(self):
        raise AssertionError("validation must fail before any query")


def test_a_request_failing_validation_never_reaches_the_database():
    app = falcon.App()
    errors.register(app)
    app.add_route("/trend", Question(_UnreachableEngine(), KOLKATA, analytics.token_trend, params.TREND))
    client = falcon.testing.TestClient(app)
    for query in ("granularity=hourly&from=2025-11-01&to=2025-11-02", "from=2025-11-02&to=2025-11-01&granularity=daily"):
        response = client.simulate_get("/trend", query_string=query)
        assert response.status_code in (400, 422)


def test_distinct_users_of_live_days_are_never_truncated(db):
    """Live active users travel as one GROUP_CONCAT text; MySQL would cut it at 1 KB by default."""
    users = range(1, 401)  # "1,2,...,400" is ~1.5 KB
    with db.begin() as conn:
        conn.execute(sa.insert(tables.users), [
            {"id": u, "username": f"u{u}", "email": f"u{u}@example.com", "created_at": datetime(2025, 1, 1)}
            for u in users
        ])
        conn.execute(sa.insert(tables.wallet_ledger), [
            {"id": f"L{u:025d}", "user_id": u, "token_type": "regular", "direction": "credit", "reason": "purchase",
             "amount": 1, "occurred_at": datetime(2025, 11, 1, 6)}
            for u in users
        ])
        if db.dialect.name != "sqlite":
            # Raised as far as the server allows (MariaDB caps it at 1 GB).
            assert conn.exec_driver_sql("SELECT @@group_concat_max_len").scalar() >= 2**30
    with db.connect() as conn:
        overview = analytics.token_overview(conn, date(2025, 11, 1), date(2025, 11, 1), KOLKATA)
    assert overview["active_users"] == len(users)


def test_a_day_stored_again_is_never_answered_from_the_cache(db):
    for user in (1, 2):
        add_user(db, user)
    add_ledger(db, 1, "debit", 5, "2025-09-02 06:00:00", reason="chapter_generation")
    day = date(2025, 9, 2)
    materialize_day(db, day, KOLKATA)
    with db.connect() as conn:
        assert analytics.token_overview(conn, day, day, KOLKATA)["active_users"] == 1
    add_ledger(db, 2, "debit", 5, "2025-09-02 07:00:00", reason="chapter_generation")
    materialize_day(db, day, KOLKATA)  # within the same second: only the version tells them apart
    with db.connect() as conn:
        assert analytics.token_overview(conn, day, day, KOLKATA)["active_users"] == 2
        assert analytics.token_overview(conn, day, day, KOLKATA, feature="chapter_generation")["active_users"] == 2


def test_top_users_see_a_day_stored_again_with_its_amounts_moved_between_users(db):
    for user in (1, 2):
        add_user(db, user)
    day = date(2025, 9, 2)
    first = add_ledger(db, 1, "debit", 5, "2025-09-02 06:00:00", reason="chapter_generation")
    second = add_ledger(db, 2, "debit", 3, "2025-09-02 07:00:00", reason="chapter_generation")
    materialize_day(db, day, KOLKATA)
    with db.connect() as conn:
        assert analytics.top_users(conn, day, day, KOLKATA, "spend")["items"][0]["user_id"] == 1
    with db.begin() as conn:  # same totals, same users, same breakdown: only who spent what differs
        conn.execute(tables.wallet_ledger.delete().where(tables.wallet_ledger.c.id.in_([first, second])))
    add_ledger(db, 1, "debit", 3, "2025-09-02 06:00:00", reason="chapter_generation")
    add_ledger(db, 2, "debit", 5, "2025-09-02 07:00:00", reason="chapter_generation")
    materialize_day(db, day, KOLKATA)
    with db.connect() as conn:
        assert [item["user_id"] for item in analytics.top_users(conn, day, day, KOLKATA, "spend")["items"]] == [2, 1]
        month = (date(2025, 9, 1), date(2025, 9, 30))  # read through the month's rollup as well
        assert [item["user_id"] for item in analytics.top_users(conn, *month, KOLKATA, "spend")["items"]] == [2, 1]
