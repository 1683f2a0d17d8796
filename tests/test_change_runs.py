"""A day's pending changes read as runs of consecutive ids and deleted by them (core.changes):
exactly the day's changes go, whatever other days' changes sit between them."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import changes
from core.tables import analytics_changes
from tests.analytics_reference import KOLKATA

DAY = date(2025, 11, 3)
ON_THE_DAY, OTHER_DAY = changes.day_minutes(DAY, DAY, KOLKATA)[0] + 600, changes.day_minutes(DAY, DAY, KOLKATA)[1] + 5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.integers(1, 60), st.booleans(), max_size=40))
def test_the_runs_cover_exactly_the_days_changes(db, on_the_day_by_id):
    with db.begin() as conn:
        conn.execute(analytics_changes.delete())
        if on_the_day_by_id:
            conn.execute(analytics_changes.insert(), [
                {"id": change_id, "minute": ON_THE_DAY if on_the_day else OTHER_DAY, "changed_at": datetime(2025, 11, 3)}
                for change_id, on_the_day in on_the_day_by_id.items()])
    with db.begin() as conn:
        runs = changes.id_runs_of_day(conn, DAY, KOLKATA)
        covered = [change_id for first, last in runs for change_id in range(first, last + 1)]
        assert covered == sorted(change_id for change_id, on_the_day in on_the_day_by_id.items() if on_the_day)
        assert all(earlier[1] + 1 < later[0] for earlier, later in zip(runs, runs[1:]))  # runs as long as they go
        changes.delete(conn, runs=runs)
    with db.connect() as conn:
        left = set(conn.execute(sa.select(analytics_changes.c.id)).scalars())
    assert left == {change_id for change_id, on_the_day in on_the_day_by_id.items() if not on_the_day}
