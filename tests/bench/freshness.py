"""Issue 11's freshness rows: how soon a late change on a materialized day is in the stored
figures with the Procfile's processes running (web, worker, scheduler), and what today costs
once the fold-in materializes it as it goes."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from ulid import ULID

from core.config import Settings
from core.dates import day_bounds, iso_local, to_local_date
from core.etl.job import fold_in
from core.etl.lock import EtlAlreadyRunning
from core.tables import analytics_changes, analytics_token_daily, purchases, wallet_ledger
from tests.bench import dataset as ds
from tests.bench.client import ApiClient, RouteFailed, time_get
from tests.bench.report import Measure, Row, Target
from tests.bench.routes import CREDITED, DEBITED, OVERVIEW, PAID_REVENUE
from tests.bench.scales import Scale
from tests.bench.services import AppStack
from tests.bench.stats import time_call

LAG_SECTION = "late changes folded in (web + worker + scheduler, FOLD_INTERVAL_SECONDS as shipped)"
MARKER = "bench:freshness"
ADJUSTMENT_TOKENS = 100_000
BACK_DAYS = 60  # "two months back" (half the history on a shorter dataset)
POLL_SECONDS = 0.2
FOLD_BOUND_SECONDS = 120
TARGET_ROWS_TODAY = 1_000_000  # the figure, stated for 10m
ONE_DAY = timedelta(days=1)

# (credited, debited, revenue) of one day, as analytics_token_daily stores it.
Figures = tuple[int, int, Decimal]
SqlParams = Callable[[date, date], dict]


@dataclass(frozen=True)
class LateChange:
    """One correction as the wallet's other services make them: a credit dated two months back,
    the deletion of a ledger row of the next day, a paid purchase refunded."""

    adjustment_id: str
    removed: dict  # the deleted ledger row, written back by `undo`
    refunded_id: str
    days: frozenset[date]  # the stored days it changes

    @property
    def first(self) -> date:
        return min(self.days)

    @property
    def last(self) -> date:
        return max(self.days)


def make_late_change(engine: Engine, tz: ZoneInfo, day: date, last_stored: date) -> LateChange:
    start, end = day_bounds(day, day, tz)
    next_start, next_end = day_bounds(day + ONE_DAY, day + ONE_DAY, tz)
    stored_end = day_bounds(last_stored, last_stored, tz)[1]
    ledger, bought = wallet_ledger.c, purchases.c
    at = start + timedelta(hours=12)
    with engine.begin() as conn:
        removed = conn.execute(
            sa.select(wallet_ledger).where(ledger.occurred_at >= next_start, ledger.occurred_at < next_end)
            .order_by(ledger.occurred_at, ledger.id).limit(1)
        ).mappings().one()
        refunded = conn.execute(
            sa.select(bought.id, bought.paid_at)
            .where(bought.status == "paid", bought.paid_at >= start, bought.paid_at < stored_end)
            .order_by(bought.paid_at, bought.id).limit(1)
        ).one()
        adjustment_id = str(ULID.from_datetime(at.replace(tzinfo=UTC)))
        conn.execute(wallet_ledger.insert().values(
            id=adjustment_id, user_id=removed["user_id"], token_type="regular", direction="credit",
            reason="admin_adjustment", amount=ADJUSTMENT_TOKENS, reference_id=MARKER, occurred_at=at,
        ))
        conn.execute(wallet_ledger.delete().where(ledger.id == removed["id"]))
        conn.execute(purchases.update().where(bought.id == refunded.id).values(status="refunded"))
    return LateChange(adjustment_id, dict(removed), refunded.id,
                      frozenset({day, day + ONE_DAY, to_local_date(refunded.paid_at, tz)}))


def undo(engine: Engine, change: LateChange) -> None:
    """Put the rows back as they were (itself a late change, captured and folded in like one)."""
    with engine.begin() as conn:
        conn.execute(wallet_ledger.delete().where(wallet_ledger.c.id == change.adjustment_id))
        conn.execute(wallet_ledger.insert().values(**change.removed))
        conn.execute(purchases.update().where(purchases.c.id == change.refunded_id).values(status="paid"))


def base_figures(engine: Engine, days: frozenset[date], tz: ZoneInfo) -> dict[date, Figures]:
    figures = {}
    with engine.connect() as conn:
        for day in days:
            start, end = day_bounds(day, day, tz)
            bounds = {"start": start, "end": end}
            credited, debited = conn.execute(sa.text(
                f"SELECT {CREDITED}, {DEBITED} FROM wallet_ledger WHERE occurred_at >= :start AND occurred_at < :end"
            ), bounds).one()
            revenue = conn.execute(sa.text(PAID_REVENUE), bounds).scalar_one()
            figures[day] = (int(credited or 0), int(debited or 0), Decimal(revenue))
    return figures


def stored_figures(engine: Engine, days: frozenset[date]) -> dict[date, Figures]:
    """The whole days stored (a partial day does not count as folded in)."""
    daily = analytics_token_daily.c
    with engine.connect() as conn:
        return {day: (int(credited), int(debited), Decimal(revenue)) for day, credited, debited, revenue in conn.execute(
            sa.select(daily.date, daily.credited, daily.debited, daily.revenue_in_inr)
            .where(daily.date.in_(sorted(days)), daily.covered_until.is_(None)))}


def wait_stored(engine: Engine, expected: dict[date, Figures], since: float) -> float | None:
    """Seconds from `since` until the stored days hold `expected`; None after the bound."""
    days = frozenset(expected)
    while True:
        if stored_figures(engine, days) == expected:
            return time.monotonic() - since
        if time.monotonic() - since > FOLD_BOUND_SECONDS:
            return None
        time.sleep(POLL_SECONDS)


def wait_backlog_empty(engine: Engine, bound: float = FOLD_BOUND_SECONDS) -> bool:
    """Until every captured change is folded in (the scheduler's first ticks take the earlier
    phases' changes)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.execute(sa.select(sa.func.count()).select_from(analytics_changes)).scalar_one():
                return True
        time.sleep(POLL_SECONDS)
    return False


def overview_is_exact(client: ApiClient, engine: Engine, first: date, last: date, sql_params: SqlParams) -> bool:
    """The overview over first..last equals the plain SQL over the base tables as they are now."""
    status, body = client.request("GET", OVERVIEW.path, {"from": first.isoformat(), "to": last.isoformat()})
    if status != 200:
        raise RouteFailed(status)
    answer = json.loads(body, parse_float=Decimal)
    with engine.connect() as conn:
        credited, debited, users, revenue = conn.execute(sa.text(OVERVIEW.baseline_sql), sql_params(first, last)).one()
    return ((answer["credited"], answer["debited"], answer["active_users"], Decimal(answer["revenue_in_inr"]))
            == (int(credited or 0), int(debited or 0), int(users), Decimal(revenue)))


def measure_fold_lag(engine: Engine, client: ApiClient, stack: AppStack, tz: ZoneInfo, yesterday: date,
                     scale: Scale, sql_params: SqlParams, log) -> list[Row]:
    trials = scale.fold_trials
    lag_median = Row(LAG_SECTION, f"change → stored day: median of {trials}", None)
    lag_max = Row(LAG_SECTION, f"change → stored day: max of {trials}", None, target=Target(at_most=60, unit="s"))
    exact = Row(LAG_SECTION, "answer includes it at once (overview = plain SQL right after the commit)", None,
                target=Target(at_least=trials, unit=f"of {trials}"))
    rows = [lag_median, lag_max, exact]
    day = yesterday - timedelta(days=min(BACK_DAYS, scale.days // 2))
    lags: list[float] = []
    undo_lags: list[float] = []
    matched = 0
    with stack.scheduler():
        if not wait_backlog_empty(engine):
            for row in rows:
                row.note = f"error: earlier changes not folded in within {FOLD_BOUND_SECONDS} s"
            return rows
        for _ in range(trials):
            change = make_late_change(engine, tz, day, yesterday)
            committed = time.monotonic()
            try:
                matched += overview_is_exact(client, engine, change.first, change.last, sql_params)
            except RouteFailed as missing:
                exact.note = str(missing)
            lag = wait_stored(engine, base_figures(engine, change.days, tz), committed)
            undo(engine, change)
            undone = time.monotonic()
            undo_lag = wait_stored(engine, base_figures(engine, change.days, tz), undone)
            if lag is None or undo_lag is None:
                lag_median.note = lag_max.note = f"error: a change of {sorted(change.days)} not folded in within " \
                                                 f"{FOLD_BOUND_SECONDS} s (see the worker's log)"
                break
            lags.append(lag)
            undo_lags.append(undo_lag)
            log(f"  late change on {change.first}..{change.last}: folded in after {lag:.1f} s, its undo after {undo_lag:.1f} s")
    if lags and not lag_median.note:
        note = (f"{len(lags)} changes: +{ADJUSTMENT_TOKENS:,} admin_adjustment on {day}, a ledger row of the next day "
                f"deleted, a purchase refunded; seconds: {', '.join(f'{s:.1f}' for s in lags)}; their undos: "
                f"{', '.join(f'{s:.1f}' for s in undo_lags)}")
        lag_median.ours, lag_median.note = Measure(round(statistics.median(lags), 1), "s"), note
        lag_max.ours, lag_max.note = Measure(round(max(lags), 1), "s"), note
    if not exact.note:
        exact.ours = Measure(matched, f"of {trials}")
    return rows


def fold_in_now(engine: Engine, settings: Settings, out: TextIO) -> None:
    """One fold-in from this process; while a worker's holds the ETL lock, the next try."""
    while True:
        try:
            fold_in(engine, settings, out=out)
            return
        except EtlAlreadyRunning:
            time.sleep(POLL_SECONDS)


@contextmanager
def fold_log(log_dir) -> Iterator[TextIO]:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "fold-in.log", "a") as out:
        yield out


def measure_today(engine: Engine, core_engine: Engine, client: ApiClient, settings: Settings, tz: ZoneInfo,
                  yesterday: date, scale: Scale, baseline: Callable[[date, date], Measure], log_dir, log) -> list[Row]:
    today = yesterday + ONE_DAY
    scaled = "" if scale.today_rows == TARGET_ROWS_TODAY else f", scaled down from {TARGET_ROWS_TODAY:,}"
    section = f"today materialized as it goes ({scale.today_rows:,} ledger rows today{scaled})"
    n = {"warmup": scale.warmup_requests, "requests": scale.requests_per_route}
    with fold_log(log_dir) as out, ds.realtime_rows(engine, tz, scale.today_rows, scale.seed) as rows_today:
        with engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).select_from(analytics_changes)).scalar_one()
        seconds = time_call(lambda: fold_in_now(core_engine, settings, out))
        with engine.connect() as conn:
            covered = conn.execute(sa.select(analytics_token_daily.c.covered_until)
                                   .where(analytics_token_daily.c.date == today)).scalar_one()
            live = conn.execute(sa.select(sa.func.count()).select_from(wallet_ledger)
                                .where(wallet_ledger.c.occurred_at >= covered)).scalar_one()
        log(f"today: {rows_today:,} rows; fold-in took {seconds:.1f} s, covers up to {iso_local(covered, tz)}")
        fold = Row(section, f"fold-in materializing today ({pending:,} changes pending)", Measure(round(seconds, 2), "s"),
                   note=f"`fold_in` from the harness; today stored up to {iso_local(covered, tz)}, "
                        f"the {live:,} rows after it read from the ledger")
        ranges = {
            "today": (today, today), "yesterday": (yesterday, yesterday),
            "30 today": (today - timedelta(days=29), today), "30 yesterday": (yesterday - timedelta(days=29), yesterday),
        }
        figures = {
            "today": Row(section, f"overview of today ({rows_today:,} rows)", None, baseline(*ranges["today"])),
            "yesterday": Row(section, "overview of yesterday (a materialized day)", None),
            "30 today": Row(section, "overview, 30 days ending today", None, baseline(*ranges["30 today"])),
            "30 yesterday": Row(section, "overview, 30 days ending yesterday", None),
        }
        added = Row(section, "added by today (median today − yesterday)", None, target=Target(at_most=20, unit="ms"))
        ratio = Row(section, "30 days ending today ÷ ending yesterday (medians)", None,
                    target=Target(at_most=2, unit="×"))
        try:
            timings = {key: time_get(client, OVERVIEW.path, {"from": first.isoformat(), "to": last.isoformat()}, **n)
                       for key, (first, last) in ranges.items()}
        except RouteFailed as missing:
            for row in (*figures.values(), added, ratio):
                row.note = str(missing)
        else:
            for key, row in figures.items():
                row.ours = Measure.of(timings[key])
            added.ours = Measure(round(timings["today"].median_ms - timings["yesterday"].median_ms, 2), "ms")
            ratio.ours = Measure(round(timings["30 today"].median_ms / timings["30 yesterday"].median_ms, 2), "×")
    # The added rows are gone again (captured like any delete): fold that in before the next phase.
    with fold_log(log_dir) as out:
        fold_in_now(core_engine, settings, out)
    return [fold, *figures.values(), added, ratio]
