"""Top users over a year at a scale, in one fresh process: `python -m tests.bench.top_users_probe
--database-url URL`. Prints JSON: the first request (nothing cached), the first after yesterday
is stored anew with other data (an ETL that changed it), warm median and p95, and the process's
peak RSS.

The process is the unit a gunicorn worker is: what it keeps between requests is its RSS. Run in
a process of its own so the peak belongs to top users alone (issue 18's users axis).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core import analytics
from core.dates import local_today
from core.db import get_engine
from core.materialize import materialize_day
from tests.bench.stats import summarize

MARKER = "bench:top-users"


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.top_users_probe")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--timezone", default="Asia/Kolkata")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    tz = ZoneInfo(args.timezone)
    engine = get_engine(make_url(args.database_url))
    yesterday = local_today(tz) - timedelta(days=1)
    first = yesterday - timedelta(days=364)

    def top(metric: str = "spend") -> dict:
        with engine.connect() as conn:
            return analytics.top_users(conn, first, yesterday, tz, metric=metric)

    with engine.connect() as conn:  # the connection pool's first connection is not top users' cost
        conn.execute(sa.text("SELECT 1"))
    cold = _timed(top)
    warm = summarize([_timed(lambda m=m: top(m)) for _ in range(args.requests // 3) for m in ("spend", "earn", "net")])
    # A late row on yesterday, stored by the ETL: yesterday and its month get new versions.
    with engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT MIN(id) FROM users WHERE role = 'user'")).scalar_one()
        noon = datetime.combine(yesterday, datetime.min.time(), tz).replace(hour=12).astimezone(UTC).replace(tzinfo=None)
        conn.execute(sa.text(
            "INSERT INTO wallet_ledger (id, user_id, token_type, direction, reason, amount, reference_id, occurred_at) "
            "VALUES ('01ZZZZZZZZZZZZZZZZZZZZZZZZ', :user_id, 'regular', 'debit', 'chapter_generation', 7, :marker, :at)"
        ), {"user_id": user_id, "marker": MARKER, "at": noon})
    try:
        etl_seconds = _timed(lambda: materialize_day(engine, yesterday, tz))
        after_etl = _timed(top)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM wallet_ledger WHERE reference_id = :marker"), {"marker": MARKER})
        materialize_day(engine, yesterday, tz)
    print(json.dumps({
        "cold_ms": round(cold * 1000, 1),
        "after_etl_ms": round(after_etl * 1000, 1),
        "nightly_day_s": round(etl_seconds, 2),
        "warm_median_ms": warm.median_ms,
        "warm_p95_ms": warm.p95_ms,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    engine.dispose()


if __name__ == "__main__":
    main()
