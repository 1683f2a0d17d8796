"""ETL timings: the backfill of every day from nothing, then one nightly day again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.engine import Engine

from tests.bench.dataset import reset_materialized
from tests.bench.report import Measure, Row, Target
from tests.bench.services import CommandFailed, run_cli
from tests.bench.stats import time_call

SECTION = "ETL"
BACKFILL_TIMEOUT_SECONDS = 3600
BACKFILL = "backfill of every day (`etl`, from nothing)"
NIGHTLY = "one nightly day (`etl --date yesterday`)"


def measure_etl(engine: Engine, env: dict[str, str], yesterday: date, log,
                before_each: Callable[[], None]) -> list[Row]:
    backfill_target = Target(at_most=180, unit="s")
    nightly_target = Target(at_most=2, unit="s")
    emptied = reset_materialized(engine)
    log(f"etl: emptied {len(emptied)} derived tables ({', '.join(emptied)}); timing the backfill")
    rows = []
    for figure, args, target in ((BACKFILL, ["etl"], backfill_target),
                                 (NIGHTLY, ["etl", "--date", yesterday.isoformat()], nightly_target)):
        before_each()
        try:
            seconds = time_call(lambda args=args: run_cli(args, env, timeout=BACKFILL_TIMEOUT_SECONDS))
            rows.append(Row(SECTION, figure, Measure(round(seconds, 2), "s"), target=target))
        except CommandFailed as error:
            rows.append(Row(SECTION, figure, None, target=target, note=f"error: {error}"))
        log(f"etl: {figure}: {rows[-1].cells()[1]}")
    return rows
