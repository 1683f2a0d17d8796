"""The `wallet-analytics` command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from core import demo_data
from core.auth import mint_admin_token
from core.config import Settings, load_settings
from core.dates import local_today, parse_date
from core.db import get_engine
from core.dialect import is_missing_table
from core.errors import ConfigError, DomainError, ValidationError
from core.etl.job import run_etl
from core.etl.plan import requested_dates
from core.exports.maintenance import expire_exports
from core.logs import configure_logging
from workers.jobs import clean_up_exports

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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
    summary = demo_data.generate(
        engine, users=args.users, days=args.days, seed=args.seed, rows=args.rows,
        tz=settings.report_timezone, replace=args.replace,
    )
    print(
        f"demo data: {summary.users} users, {summary.ledger_rows} ledger rows, {summary.purchases} purchases, "
        f"{summary.referrals} referrals, {summary.authorizations} authorizations, "
        f"{summary.first_day} to {summary.last_day} ({settings.report_timezone.key})"
    )
    return 0


def cmd_token(settings: Settings, args) -> int:
    token = mint_admin_token(
        get_engine(settings.database_url), settings.jwt_secret,
        user_id=args.user_id, username=None if args.user_id else args.username,
        ttl=timedelta(hours=args.hours),
    )
    print(token)
    return 0


def cmd_etl(settings: Settings, args) -> int:
    engine = get_engine(settings.database_url)
    dates = None
    if args.date or args.first or args.last:
        first, last = _date_arguments(args)
        tz = settings.report_timezone
        dates = requested_dates(first, last, local_today(tz), tz)
    run_etl(engine, settings, cleanup=partial(expire_exports, engine, settings), trigger="cli", dates=dates,
            wait=args.wait)
    return 0


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
    from workers.enqueue import export_enqueuer

    # Without REDIS_URL no worker of another process reads what this one would queue: lost
    # exports are left to the stuck rule.
    enqueue = export_enqueuer(build_broker(settings)) if settings.redis_url else None
    print(clean_up_exports(settings, enqueue))
    return 0


def cmd_web(settings: Settings, args) -> int:
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "--config", str(GUNICORN_CONFIG), "web.wsgi:app"]
    return run()


def cmd_worker(settings: Settings, args) -> int:
    from dramatiq.cli import main as dramatiq_main

    sys.argv = ["dramatiq", "workers.actors", "--processes", str(args.processes), "--threads", str(args.threads)]
    return dramatiq_main()


def cmd_serve(settings: Settings, args) -> int:
    from workers.serve import serve

    return serve(settings, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wallet-analytics", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    p.add_argument("--revision", default="head")
    p.set_defaults(handler=cmd_migrate)

    p = commands.add_parser("demo-data", help="write a realistic wallet history")
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows", type=int, default=None, help="ledger rows, about (default: 50 per user)")
    p.add_argument("--replace", action="store_true", help="delete the existing wallet data first")
    p.add_argument("--if-empty", action="store_true", help="do nothing if the database has users")
    p.set_defaults(handler=cmd_demo_data)

    p = commands.add_parser("token", help="mint an admin JWT for an existing admin user")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user-id", type=int)
    who.add_argument("--username", default=demo_data.ADMIN_USERNAME)
    p.add_argument("--hours", type=float, default=12.0)
    p.set_defaults(handler=cmd_token, needs_jwt_secret=True)

    p = commands.add_parser(
        "etl", help="materialize days: no options picks the missing days and the lookback; "
        "--date/--from --to reprocess exactly those")
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--date", metavar="YYYY-MM-DD", help="reprocess this one day")
    dates.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="reprocess from this day ...")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="... to this one, inclusive")
    p.add_argument("--wait", action="store_true", help="if another run is going, wait for it instead of failing")
    p.set_defaults(handler=cmd_etl)

    p = commands.add_parser("scheduler", help="enqueue the nightly ETL at 03:00 REPORT_TIMEZONE")
    p.set_defaults(handler=cmd_scheduler)

    p = commands.add_parser("exports", help="export housekeeping")
    exports = p.add_subparsers(dest="exports_command", required=True, metavar="COMMAND")
    p = exports.add_parser(
        "cleanup",
        help="expire ready exports past expires_at (deleting their files), queue lost exports again once, "
        "fail exports stuck preparing",
    )
    p.set_defaults(handler=cmd_exports_cleanup)

    p = commands.add_parser("web", help="serve the API with gunicorn (deploy/gunicorn.conf.py)")
    p.set_defaults(handler=cmd_web, needs_jwt_secret=True)

    p = commands.add_parser("worker", help="run Dramatiq workers on REDIS_URL")
    p.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "2")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("WORKER_THREADS", "4")))
    p.set_defaults(handler=cmd_worker)

    p = commands.add_parser("serve", help="all-in-one demo: API and an in-process worker")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    p.set_defaults(handler=cmd_serve, needs_jwt_secret=True, demo=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(
            demo=getattr(args, "demo", False), needs_jwt_secret=getattr(args, "needs_jwt_secret", False)
        )
    except ConfigError as error:
        print(f"wallet-analytics: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging()
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
