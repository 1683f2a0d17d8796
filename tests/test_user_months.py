"""The packed per-user sums of a month (core.user_months) against plain Python."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import migrate, user_months
from core.db import get_engine
from core.tables import analytics_user_monthly
from core.user_months import UserSums, pack, unpack

amounts = st.integers(0, 2 ** 60)  # a sum of two stays within int64, as every real sum does
# A user with nothing in a month is no entry (UserSums.of_rows drops one).
sums_by_user = st.dictionaries(st.integers(1, 2 ** 40), st.tuples(amounts, amounts).map(list).filter(any), max_size=40)


def _as_dict(sums: UserSums) -> dict[int, list[int]]:
    assert list(sums.user_ids) == sorted(set(sums.user_ids.tolist()))
    return {int(u): [int(c), int(d)] for u, c, d in zip(sums.user_ids, sums.credited, sums.debited)}


@given(sums_by_user)
def test_packing_keeps_every_sum(sums):
    assert _as_dict(unpack(pack(UserSums.of_dict(sums)))) == sums


@given(sums_by_user, sums_by_user, st.sampled_from([1, -1]))
def test_combined_adds_up_per_user_and_drops_users_left_with_nothing(mine, theirs, sign):
    expected = {}
    for user in set(mine) | set(theirs):
        a, b = mine.get(user, [0, 0]), theirs.get(user, [0, 0])
        expected[user] = [a[0] + sign * b[0], a[1] + sign * b[1]]
    expected = {user: sums for user, sums in expected.items() if sums != [0, 0]}
    assert _as_dict(UserSums.of_dict(mine).combined(UserSums.of_dict(theirs), sign)) == expected


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.dictionaries(st.tuples(st.sampled_from([date(2025, 1, 1), date(2025, 2, 1)]), st.integers(1, 10 ** 6)),
                            st.tuples(st.integers(0, 10 ** 12), st.integers(1, 10 ** 12)), max_size=30))
def test_the_migration_packs_the_monthly_rows_as_the_application_reads_them(database_url, rows):
    engine = get_engine(database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "0012_export_formats")
    with engine.begin() as conn:
        conn.execute(analytics_user_monthly.delete())
        if rows:
            conn.execute(analytics_user_monthly.insert(), [
                {"month": month, "user_id": user, "credited": credited, "debited": debited}
                for (month, user), (credited, debited) in rows.items()])
    migrate.upgrade(engine)
    with engine.connect() as conn:
        for month in (date(2025, 1, 1), date(2025, 2, 1)):
            expected = {user: [c, d] for (m, user), (c, d) in rows.items() if m == month}
            assert _as_dict(user_months.read(conn, month)) == expected
        assert conn.execute(sa.text("SELECT COUNT(*) FROM analytics_user_months_packed")).scalar() == \
            len({month for month, _ in rows})
    engine.dispose()
