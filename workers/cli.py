"""The `wallet-analytics` command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from core import demo_data
from core.auth import mint_admin_token
from core.config import PROMETHEUS_DIR_VARIABLE, Settings, load_settings
from core.dates import local_today, parse_date, utc_now
from core.db import get_engine
from core.dialect import is_missing_table
from core.errors import ConfigError, DomainError, ValidationError
from core.etl.job import run_etl
from core.etl.plan import requested_dates
from core.etl.requests import queue_etl
from core.exports.maintenance import expire_exports
from core.logs import configure_logging
from core.progress import ProgressLine
from core.verify import repair, verify

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIN_TOKEN_HOURS, MAX_TOKEN_HOURS = 1, 720
GUNICORN_CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"


def cmd_migrate(settings: Settings, args) -> int:
    from core import migrate  # Alembic: a tenth of a second every other command need not pay

    engine = get_engine(settings.database_url)
    migrate.upgrade(engine, args.revision)
    print(f"database at revision {migrate.current_revision(engine)}")
    return 0


def cmd_demo_data(settings: Settings, args) -> int:
    engine = get_engine(settings.database_url)
    if args.if_empty and demo_data.has_users(engine):
        print("demo data: the database already has users; left as it is")
        return 0
    progress = ProgressLine(sys.stdout, "days")
    summary = demo_data.generate(
        engine, users=args.users, days=args.days, seed=args.seed, rows=args.rows,
        tz=settings.report_timezone, replace=args.replace, progress=progress.update,
    )
    progress.end()
    print(
        f"demo data: {summary.users} users, {summary.ledger_rows} ledger rows, {summary.purchases} purchases, "
        f"{summary.referrals} referrals, {summary.authorizations} authorizations, "
        f"{summary.first_day} to {summary.last_day} ({settings.report_timezone.key})"
    )
    return 0


def cmd_token(settings: Settings, args) -> int:
    if not MIN_TOKEN_HOURS <= args.hours <= MAX_TOKEN_HOURS:
        raise ValidationError(f"--hours must be from {MIN_TOKEN_HOURS} to {MAX_TOKEN_HOURS} (30 days), got {args.hours:g}")
    token = mint_admin_token(
        get_engine(settings.database_url), settings.jwt_secret,
        user_id=args.user_id, username=None if args.user_id else args.username,
        ttl=timedelta(hours=args.hours),
    )
    print(token)
    return 0


def cmd_etl(settings: Settings, args) -> int:
    engine = get_engine(settings.database_url)
    tz = settings.report_timezone
    if args.enqueue:
        if not (args.date or args.first or args.last):
            raise ValidationError("--enqueue needs the days: --date D, or --from D --to D")
        from workers.enqueue import etl_run_enqueuer, sending_broker

        first, last = _date_arguments(args)
        run, sent = queue_etl(engine, tz, first, last, trigger="cli-enqueue", now=utc_now(),
                              send=etl_run_enqueuer(sending_broker(settings)))
        how = "queued" if sent else "joined the queued run"
        print(f"ETL run {run.id} {how}: {run.first_date} to {run.last_date}; "
              f"GET /api/v1/admin/analytics/etl-runs/{run.id} shows how it goes")
        return 0
    dates = None
    if args.date or args.first or args.last:
        first, last = _date_arguments(args)
        dates = requested_dates(first, last, local_today(tz), tz)
    run_etl(engine, settings, cleanup=partial(expire_exports, engine, settings), trigger="cli", dates=dates,
            wait=args.wait)
    return 0


def cmd_verify(settings: Settings, args) -> int:
    engine = get_engine(settings.database_url)
    tz = settings.report_timezone
    first = parse_date(args.first, "--from") if args.first else None
    last = parse_date(args.last, "--to") if args.last else None
    result = verify(engine, tz, first, last)
    _print_verification(result)
    if args.repair and (result.differences or result.months):
        repair(engine, settings, result)
        result = verify(engine, tz, first, last)
        print("After the repair:")
        _print_verification(result)
    return 1 if result.drift or result.months else 0


def _print_verification(result) -> None:
    print(f"Verified {result.days_checked} stored day(s): {len(result.drift)} differ from the base tables, "
          f"{len(result.differences) - len(result.drift)} pending a fold-in, {len(result.months)} month(s) "
          "of per-user sums differ from their days")
    for difference in result.differences:
        state = " (pending a fold-in)" if difference.pending else ""
        print(f"  {difference.day}{state}: " + "; ".join(difference.figures))
    for month in result.months:
        print(f"  {month}: per-user sums differ from the sum of its days'")


def _date_arguments(args) -> tuple[date, date]:
    if args.date:
        if args.last:
            raise ValidationError("--date names one day; for a range use --from D --to D")
        day = parse_date(args.date, "--date")
        return day, day
    if not (args.first and args.last):
        raise ValidationError("--from and --to go together: give both, or --date D for one day")
    return parse_date(args.first, "--from"), parse_date(args.last, "--to")


def cmd_scheduler(settings: Settings, args) -> int:
    from workers.scheduler import run

    return run(settings)


def cmd_exports_cleanup(settings: Settings, args) -> int:
    from workers.broker import build_broker
    from workers.enqueue import export_enqueuer, webhook_enqueuer
    from workers.jobs import clean_up_exports

    # Without REDIS_URL no worker of another process reads what this one would queue: lost
    # exports are left to the stuck rule, webhook events to the demo's own janitor.
    if settings.redis_url:
        broker = build_broker(settings)
        print(clean_up_exports(settings, export_enqueuer(broker), webhook_enqueuer(broker)))
    else:
        print(clean_up_exports(settings, None))
    return 0


def cmd_web(settings: Settings, args) -> int:
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--config", str(GUNICORN_CONFIG), "web.wsgi:app"]
    return run()


def cmd_worker(settings: Settings, args) -> int:
    from workers.supervisor import supervise

    return supervise(args.processes or settings.worker_processes, args.threads or settings.worker_threads,
                     webhooks=settings.export_webhook_url is not None)


def cmd_serve(settings: Settings, args) -> int:
    from workers.serve import serve

    return serve(settings, port=args.port or settings.port)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after every option's help, and examples kept as written."""


def _command(commands, name: str, help: str, examples: str, **defaults) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter,
                                 epilog=f"examples:\n{examples}")
    parser.set_defaults(**defaults)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wallet-analytics", description=__doc__, formatter_class=_HelpFormatter,
        epilog="Configuration comes from the environment (DATABASE_URL, REDIS_URL, JWT_SECRET, ...): see the "
               "README. `wallet-analytics COMMAND --help` shows each command's options and examples.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('wallet-analytics')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(commands, "migrate", "bring the database schema up to date (Alembic)",
                 "  wallet-analytics migrate\n  wallet-analytics migrate --revision 0005_day_versions",
                 handler=cmd_migrate)
    p.add_argument("--revision", default="head", help="the Alembic revision to upgrade to")

    p = _command(commands, "demo-data", "write a realistic wallet history ending now",
                 "  wallet-analytics demo-data --users 500 --days 90\n"
                 "  wallet-analytics demo-data --users 100000 --days 365 --rows 10000000 --replace",
                 handler=cmd_demo_data)
    p.add_argument("--users", type=int, default=500, help="users besides the admin")
    p.add_argument("--days", type=int, default=90, help="local days of history, ending today")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed writes the same history")
    p.add_argument("--rows", type=int, default=None, help="ledger rows, about (None: 50 per user)")
    p.add_argument("--replace", action="store_true", help="delete the existing wallet data first")
    p.add_argument("--if-empty", action="store_true", help="do nothing if the database has users")

    p = _command(commands, "token", "mint an admin JWT for an existing admin user",
                 "  wallet-analytics token\n  wallet-analytics token --user-id 7 --hours 1",
                 handler=cmd_token, needs_jwt_secret=True)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user-id", type=int, help="the admin's user id (instead of --username)")
    who.add_argument("--username", default=demo_data.ADMIN_USERNAME, help="the admin's username")
    p.add_argument("--hours", type=float, default=12.0,
                   help=f"how long the token is valid, {MIN_TOKEN_HOURS} to {MAX_TOKEN_HOURS}")

    p = _command(commands, "etl", "materialize days: no options picks the missing days and the lookback; "
                 "--date/--from --to reprocess exactly those",
                 "  wallet-analytics etl                      # the nightly choice\n"
                 "  wallet-analytics etl --date 2025-11-07\n"
                 "  wallet-analytics etl --from 2025-11-01 --to 2025-11-07 --wait\n"
                 "  wallet-analytics etl --from 2025-11-01 --to 2025-11-07 --enqueue   # on the workers",
                 handler=cmd_etl)
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--date", metavar="YYYY-MM-DD", help="reprocess this one day")
    dates.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="reprocess from this day ...")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="... to this one, inclusive")
    p.add_argument("--wait", action="store_true", help="if another run is going, wait for it instead of failing")
    p.add_argument("--enqueue", action="store_true",
                   help="queue the run for a worker (as POST .../etl-runs does) instead of running it here")

    p = _command(commands, "verify", "recompute the stored days from the base tables and print those that differ "
                 "(exit 1 if any)",
                 "  wallet-analytics verify\n  wallet-analytics verify --from 2025-11-01 --to 2025-11-30 --repair",
                 handler=cmd_verify)
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first stored day to check (None: all)")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last stored day to check (None: all)")
    p.add_argument("--repair", action="store_true", help="materialize the days that differ again, then check again")

    _command(commands, "scheduler", "send the nightly ETL at 03:00 REPORT_TIMEZONE and a fold-in every "
             "FOLD_INTERVAL_SECONDS", "  wallet-analytics scheduler", handler=cmd_scheduler)

    p = commands.add_parser("exports", help="export housekeeping")
    exports = p.add_subparsers(dest="exports_command", required=True, metavar="COMMAND")
    _command(exports, "cleanup",
             "expire ready exports past expires_at (deleting their files), queue lost exports again once, "
             "fail exports stuck preparing", "  wallet-analytics exports cleanup", handler=cmd_exports_cleanup)

    _command(commands, "web", "serve the API with gunicorn (deploy/gunicorn.conf.py)",
             "  PORT=8000 WEB_CONCURRENCY=2 wallet-analytics web", handler=cmd_web, needs_jwt_secret=True)

    p = _command(commands, "worker", "run Dramatiq worker processes on REDIS_URL, replacing any that dies",
                 "  wallet-analytics worker\n  wallet-analytics worker --processes 4 --threads 2", handler=cmd_worker)
    p.add_argument("--processes", type=int, default=None, help="worker processes (None: WORKER_PROCESSES, 2)")
    p.add_argument("--threads", type=int, default=None, help="threads per process (None: WORKER_THREADS, 4)")

    p = _command(commands, "serve", "all-in-one demo: API, an in-process worker and the scheduler's jobs",
                 "  wallet-analytics serve --port 8000", handler=cmd_serve, needs_jwt_secret=True, demo=True)
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (None: PORT, 8000)")
    return parser


def _share_metrics_directory(settings: Settings) -> None:
    """Every process this one starts (gunicorn and Dramatiq workers) writes its metrics there
    (core.metrics); prometheus-client reads the variable when it is first imported."""
    settings.metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault(PROMETHEUS_DIR_VARIABLE, str(settings.metrics_dir))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(
            demo=getattr(args, "demo", False), needs_jwt_secret=getattr(args, "needs_jwt_secret", False)
        )
    except ConfigError as error:
        print(f"wallet-analytics: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    _share_metrics_directory(settings)
    try:
        return args.handler(settings, args) or 0
    except DomainError as error:
        print(f"wallet-analytics {args.command}: {error.message}", file=sys.stderr)
        return 1
    except DBAPIError as error:
        # Database down or not migrated: an operator's one line, not a traceback.
        hint = "; run `wallet-analytics migrate` first" if is_missing_table(error) else ""
        print(f"wallet-analytics {args.command}: database error: {error.orig}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
