"""Property tests: every analytics answer equals a plain Python computation over the rows,
whichever days happen to be materialized (none, some, all), on MariaDB and SQLite.

Rows fall on local days of a window around February 2025 (so ranges can hold a whole month,
read from analytics_user_monthly, and partial months at both ends), many of them exactly at
local midnight or a second before it (Asia/Kolkata: 18:30:00 and 18:29:59 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import analytics
from core.dates import day_bounds
from core.materialize import materialize_day
from core.tables import purchases, referrals, wallet_ledger
from tests.analytics_reference import (
    CAMPAIGNS,
    KOLKATA,
    REASONS,
    USER_IDS,
    Ledger,
    Purchase,
    Referral,
    Rows,
    add_users_and_campaigns,
    expected_by_feature,
    expected_composition,
    expected_overview,
    expected_promotions,
    expected_purchases,
    expected_top_users,
    expected_trend,
    ledger_values,
    purchase_values,
    referral_values,
    utc,
)
from tests.factories import empty_tables

WINDOW_FIRST, WINDOW_LAST = date(2025, 1, 27), date(2025, 3, 4)
WINDOW = [WINDOW_FIRST + timedelta(days=n) for n in range((WINDOW_LAST - WINDOW_FIRST).days + 1)]
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


local_times = st.one_of(
    st.sampled_from([time(0, 0, 0), time(23, 59, 59)]),  # 18:30:00 and 18:29:59 UTC
    st.times().map(lambda t: t.replace(microsecond=0)),
)
timestamps = st.builds(utc, st.sampled_from(WINDOW), local_times)


@dataclass(frozen=True)
class World(Rows):
    materialized: frozenset[date]
    first: date
    last: date


user_ids = st.sampled_from(USER_IDS)
ledgers = st.builds(Ledger, user_ids, st.sampled_from(["regular", "promo"]), st.sampled_from(["credit", "debit"]),
                    st.sampled_from(REASONS), st.integers(1, 10_000), timestamps)
purchase_rows = st.builds(Purchase, user_ids, st.integers(1, 5000),
                          st.integers(1, 99_999).map(lambda cents: Decimal(cents) / 100),
                          st.sampled_from(["paid", "paid", "failed", "pending"]), timestamps)
referral_rows = st.builds(Referral, user_ids, user_ids, st.sampled_from([None, *CAMPAIGNS]),
                          st.sampled_from(["pending", "credited"]), st.integers(0, 500), timestamps)
any_range = st.tuples(st.sampled_from(WINDOW), st.integers(0, 40))
# Ranges that hold all of February, with partial months on either side or not.
month_covering_range = st.tuples(
    st.sampled_from([WINDOW_FIRST + timedelta(days=n) for n in range(6)]), st.integers(31, 36)
)


@st.composite
def worlds(draw) -> World:
    first, length = draw(st.one_of(any_range, month_covering_range))
    return World(
        ledger=draw(st.lists(ledgers, max_size=30)),
        purchases=draw(st.lists(purchase_rows, max_size=8)),
        referrals=draw(st.lists(referral_rows, max_size=8)),
        materialized=draw(st.frozensets(st.sampled_from(WINDOW), max_size=len(WINDOW))),
        first=first,
        last=first + timedelta(days=length),
    )


def _load(engine, world: World) -> None:
    """Empty every table, write the world's rows, then materialize its chosen days."""
    with engine.begin() as conn:
        empty_tables(conn)
        add_users_and_campaigns(conn)
        for table, values, rows, prefix in ((wallet_ledger, ledger_values, world.ledger, "L"),
                                            (purchases, purchase_values, world.purchases, "P"),
                                            (referrals, referral_values, world.referrals, "R")):
            if rows:
                conn.execute(sa.insert(table), [values(f"{prefix}{n:025d}", row) for n, row in enumerate(rows)])
    for day in sorted(world.materialized):
        materialize_day(engine, day, KOLKATA)


# ---- the properties ---------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(world=worlds(), feature=st.sampled_from([None, *REASONS, "translation"]),
       token_type=st.sampled_from([None, "regular", "promo"]))
def test_token_questions_equal_plain_python(db, world, feature, token_type):
    _load(db, world)
    span = (world.first, world.last, KOLKATA)
    with db.connect() as conn:
        assert analytics.token_overview(conn, *span) == expected_overview(world, world.first, world.last)
        assert analytics.token_overview(conn, *span, feature=feature, token_type=token_type) == \
            expected_overview(world, world.first, world.last, feature, token_type)
        for granularity in ("daily", "weekly", "monthly"):
            assert analytics.token_trend(conn, *span, granularity=granularity) == expected_trend(world, world.first, world.last, granularity)
        assert analytics.tokens_by_feature(conn, *span) == expected_by_feature(world, world.first, world.last)
        assert analytics.token_composition(conn, *span) == expected_composition(world, world.first, world.last)


@PROPERTY_SETTINGS
@given(world=worlds(), limit=st.integers(1, len(USER_IDS) + 1))
def test_top_users_equal_plain_python(db, world, limit):
    _load(db, world)
    with db.connect() as conn:
        for metric in ("spend", "earn", "net"):
            assert analytics.top_users(conn, world.first, world.last, KOLKATA, metric=metric, limit=limit) == \
                expected_top_users(world, world.first, world.last, metric, limit)


@PROPERTY_SETTINGS
@given(world=worlds(), campaign_id=st.sampled_from([None, *CAMPAIGNS]))
def test_purchases_and_promotions_equal_plain_python(db, world, campaign_id):
    _load(db, world)
    with db.connect() as conn:
        assert analytics.purchase_analytics(conn, world.first, world.last, KOLKATA) == expected_purchases(world, world.first, world.last)
        assert analytics.promotion_analytics(conn, world.first, world.last, KOLKATA, campaign_id=campaign_id) == \
            expected_promotions(world, world.first, world.last, campaign_id)


def _top_users_by_group_by(conn, first: date, last: date, metric: str, limit: int) -> list[tuple[int, int]]:
    """Top users as one plain GROUP BY over the ledger (what the spec's real-time view would do)."""
    value = {"spend": "debited", "earn": "credited", "net": "credited - debited"}[metric]
    listed = {"spend": "debited", "earn": "credited", "net": "credited + debited"}[metric]
    start, end = day_bounds(first, last, KOLKATA)
    rows = conn.execute(sa.text(
        f"SELECT user_id, {value} AS value FROM ("
        "  SELECT l.user_id AS user_id,"
        "         SUM(CASE WHEN l.direction = 'credit' THEN l.amount ELSE 0 END) AS credited,"
        "         SUM(CASE WHEN l.direction = 'debit' THEN l.amount ELSE 0 END) AS debited"
        "  FROM wallet_ledger l JOIN users u ON u.id = l.user_id"
        "  WHERE l.occurred_at >= :start AND l.occurred_at < :end GROUP BY l.user_id"
        f") sums WHERE {listed} > 0 ORDER BY value DESC, user_id LIMIT :limit"
    ), {"start": start, "end": end, "limit": limit})
    return [(int(user_id), int(value)) for user_id, value in rows]


@PROPERTY_SETTINGS
@given(world=worlds(), limit=st.integers(1, len(USER_IDS) + 1))
def test_top_users_equal_a_plain_sql_group_by(db, world, limit):
    """The packed months, stored days and the ledger's share, added up in numpy, rank as SQL does."""
    _load(db, world)
    with db.connect() as conn:
        for metric in ("spend", "earn", "net"):
            answer = analytics.top_users(conn, world.first, world.last, KOLKATA, metric=metric, limit=limit)
            assert [(item["user_id"], item[metric]) for item in answer["items"]] == \
                _top_users_by_group_by(conn, world.first, world.last, metric, limit)
