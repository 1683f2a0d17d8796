"""Write one local day's aggregates, all or nothing.

Everything a day owns (its analytics_token_daily row, breakdown, user sums, purchases, referrals
and its share of the monthly per-user sums, rows and packed) is replaced in one transaction, together with the
deletion of the captured changes it folds in (core.changes), so a crash leaves the day and its
pending changes exactly as they were, and a re-run gives exactly the same rows. A day whose
figures came out as stored already is not rewritten (its created_at and updated_at stay); a
rewritten day keeps its created_at and moves its updated_at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core import changes, user_months
from core.aggregates import DayAggregates, composition, compute_day
from core.dates import month_start, next_month, utc_now
from core.dialect import insert_from_select_adding, insert_numbers, upsert, without_gap_locks
from core.tables import (
    analytics_daily_breakdown,
    analytics_daily_purchases,
    analytics_daily_referrals,
    analytics_daily_users,
    analytics_token_daily,
    analytics_user_daily,
    analytics_user_monthly,
)


def materialize_day(engine: Engine, day: date, tz: ZoneInfo, *, covered_until: datetime | None = None,
                    folded: Sequence[changes.Change] | None = None) -> DayAggregates:
    """Compute `day` (with `covered_until`, only its part before that instant) from the base
    tables and store it, deleting the captured changes it folds in: `folded`, read before this
    transaction began, or else the day's pending changes read in it (its first read, so the
    computation sees them all). Returns what was computed.

    READ COMMITTED (core.dialect.without_gap_locks): each of the computation's reads sees at
    least the changes read before it, and a change committed meanwhile keeps its row (only the
    ids read are deleted), so the day is dirty again and folded in once more, never lost."""
    with without_gap_locks(engine).begin() as conn:
        read_runs = changes.id_runs_of_day(conn, day, tz) if folded is None else []
        aggregates = compute_day(conn, day, tz, covered_until)
        store_day(conn, aggregates)
        changes.delete(conn, folded or [], read_runs)
    return aggregates


def store_day(conn: Connection, aggregates: DayAggregates) -> bool:
    """Store the day unless it is stored with exactly these figures; True if it was written."""
    day = aggregates.day
    now = utc_now()
    breakdown_rows = [
        {"date": day, "reason": reason, "token_type": token_type, "credited": v.credited,
         "debited": v.debited, "users": _serialize(v.users)}
        for (reason, token_type), v in sorted(aggregates.breakdown.items())
    ]
    referral_rows = [
        {"date": day, "campaign_id": campaign, "referrals": t.referrals, "successful": t.successful,
         "bonus_awarded": t.bonus_awarded, "referrers": _serialize(t.referrers)}
        for campaign, t in sorted(aggregates.referrals.items())
    ]
    purchases = aggregates.purchases
    purchases_row = {
        "date": day, "purchases": purchases.purchases, "tokens": purchases.tokens,
        "revenue_in_inr": purchases.revenue_in_inr, "buyers": _serialize(purchases.buyers),
    }
    users = aggregates.users
    users_row = {"date": day, "users": _serialize(users)}
    users_row["version"] = _version(
        [{"covered_until": aggregates.covered_until}, users_row, purchases_row, *breakdown_rows, *referral_rows],
        sorted(aggregates.user_sums.items()),
    )
    if _stored_version(conn, day) == users_row["version"]:
        return False

    _replace_user_sums(conn, aggregates)
    for table, rows in ((analytics_daily_breakdown, breakdown_rows), (analytics_daily_referrals, referral_rows)):
        conn.execute(table.delete().where(table.c.date == day))
        if rows:
            conn.execute(table.insert(), rows)
    upsert(conn, analytics_daily_purchases, [purchases_row], key=["date"])
    upsert(conn, analytics_daily_users, [users_row], key=["date"])
    credited, debited = aggregates.credited, aggregates.debited
    volumes = aggregates.token_type_volumes()
    # analytics_token_daily last: its row is what marks the day as materialized.
    upsert(conn, analytics_token_daily, [{
        "date": day, "credited": credited, "debited": debited, "net": credited - debited,
        "revenue_in_inr": purchases.revenue_in_inr, "active_users": len(users),
        "by_feature": aggregates.by_feature(),
        "regular_vs_promo": composition(volumes["regular"], volumes["promo"]),
        "covered_until": aggregates.covered_until, "created_at": now, "updated_at": now,
    }], key=["date"], insert_only=["created_at"])
    return True


def _stored_version(conn: Connection, day: date) -> str | None:
    """The version of the day as stored, None if it is not (only one ETL run writes days)."""
    return conn.execute(
        sa.select(analytics_daily_users.c.version)
        .join(analytics_token_daily, analytics_token_daily.c.date == analytics_daily_users.c.date)
        .where(analytics_daily_users.c.date == day)
    ).scalar()


def _version(rows: list[dict], user_sums: list[tuple[int, list[int]]]) -> str:
    """A digest of everything stored for the day that readers cache (bitmaps, figures, per-user
    sums): the same day stored again with the same data keeps its version (re-runs write exactly
    the same rows), and any change gives it a new one (core.analytics.cache)."""
    digest = hashlib.blake2b(digest_size=13)
    for row in rows:
        for name, value in row.items():
            digest.update(f"{name}={value.hex() if isinstance(value, bytes) else value};".encode())
    for user_id, (credited, debited) in user_sums:
        digest.update(f"{user_id}:{credited}:{debited};".encode())
    return digest.hexdigest()


def _replace_user_sums(conn: Connection, aggregates: DayAggregates) -> None:
    """Swap the day's per-user sums, taking the old ones out of the month and adding the new."""
    day, month = aggregates.day, month_start(aggregates.day)
    daily, monthly = analytics_user_daily.c, analytics_user_monthly.c
    old_day = user_months.UserSums.of_rows(conn.execute(
        sa.select(daily.user_id, daily.credited, daily.debited).where(daily.date == day)))
    user_months.replace_day(conn, month, old_day, user_months.UserSums.of_dict(aggregates.user_sums))
    conn.execute(
        analytics_user_monthly.update()
        .where(monthly.month == month, monthly.user_id == daily.user_id, daily.date == day)
        .values(credited=monthly.credited - daily.credited, debited=monthly.debited - daily.debited)
    )
    conn.execute(analytics_user_daily.delete().where(daily.date == day))
    insert_numbers(conn, analytics_user_daily, ["date", "user_id", "credited", "debited"],
                   [(day, user_id, credited, debited) for user_id, (credited, debited) in sorted(aggregates.user_sums.items())])
    insert_from_select_adding(
        conn,
        analytics_user_monthly,
        sa.select(sa.literal(month, sa.Date).label("month"), daily.user_id, daily.credited, daily.debited)
        .where(daily.date == day),
        key=["month", "user_id"],
        summed=["credited", "debited"],
    )
    conn.execute(
        analytics_user_monthly.delete().where(monthly.month == month, monthly.credited == 0, monthly.debited == 0)
    )


def _serialize(bitmap) -> bytes:
    bitmap.run_optimize()
    return bitmap.serialize()


def rebuild_month(engine: Engine, month: date) -> None:
    """Set a month's per-user sums to the sum of its stored days' again (verify --repair)."""
    daily, monthly = analytics_user_daily.c, analytics_user_monthly.c
    with engine.begin() as conn:
        conn.execute(analytics_user_monthly.delete().where(monthly.month == month))
        conn.execute(analytics_user_monthly.insert().from_select(
            ["month", "user_id", "credited", "debited"],
            sa.select(sa.literal(month, sa.Date), daily.user_id, sa.func.sum(daily.credited), sa.func.sum(daily.debited))
            .where(daily.date >= month, daily.date < next_month(month))
            .group_by(daily.user_id)
            .having(sa.or_(sa.func.sum(daily.credited) > 0, sa.func.sum(daily.debited) > 0)),
        ))
        user_months.rebuild(conn, month)


def forget_versions(engine: Engine, days: Iterable[date]) -> None:
    """Make the next materialization of these days write them whatever they hold (a day is
    otherwise left alone when its computed version equals the stored one)."""
    with engine.begin() as conn:
        conn.execute(analytics_daily_users.update().where(analytics_daily_users.c.date.in_(sorted(days)))
                     .values(version=""))


def forget_stored_days(engine: Engine) -> None:
    """Delete every stored day (a new history was written: core.demo_data)."""
    with engine.begin() as conn:
        for table in (analytics_token_daily, analytics_daily_breakdown, analytics_daily_users, analytics_user_daily,
                      analytics_user_monthly, analytics_daily_purchases, analytics_daily_referrals):
            conn.execute(table.delete())
        user_months.delete_all(conn)
