from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa

from core.tables import analytics_etl_runs
from tests.etl_helpers import KOLKATA
from workers.scheduler import (
    CLEANUP_JOB_ID,
    NIGHTLY_JOB_ID,
    NightlyEnqueuer,
    build_scheduler,
    nightly_trigger,
)


def test_the_nightly_trigger_fires_at_three_in_the_report_zone():
    trigger = nightly_trigger(KOLKATA)
    # 03:30 on 2025-11-08 in Kolkata: tonight's 03:00 has passed, the next is tomorrow's.
    now = datetime(2025, 11, 7, 22, 0, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, now)
    assert fire == datetime(2025, 11, 9, 3, 0, tzinfo=KOLKATA)
    assert fire.astimezone(UTC) == datetime(2025, 11, 8, 21, 30, tzinfo=UTC)
    # A minute before 03:00 local it fires that same night.
    assert trigger.get_next_fire_time(None, datetime(2025, 11, 8, 21, 29, tzinfo=UTC)) == fire


def test_the_scheduler_runs_the_enqueuer_on_the_nightly_trigger():
    sent = []
    scheduler = build_scheduler(KOLKATA, lambda: sent.append("etl"), lambda: sent.append("cleanup"))
    job = scheduler.get_job(NIGHTLY_JOB_ID)
    now = datetime(2025, 11, 8, 12, 0, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, now) == datetime(2025, 11, 9, 3, 0, tzinfo=KOLKATA)
    job.func()
    assert sent == ["etl"]


def test_two_schedulers_enqueue_each_night_once(redis_url):
    sent = []
    night = datetime(2025, 11, 8, 21, 30)  # 03:00 on 2025-11-09 in Kolkata, in UTC
    first = NightlyEnqueuer(lambda: sent.append("first"), KOLKATA, redis.Redis.from_url(redis_url), lambda: night)
    second = NightlyEnqueuer(lambda: sent.append("second"), KOLKATA, redis.Redis.from_url(redis_url),
                             lambda: night + timedelta(seconds=2))
    assert first() is True
    assert second() is False
    assert sent == ["first"]

    next_night = NightlyEnqueuer(lambda: sent.append("second"), KOLKATA, redis.Redis.from_url(redis_url),
                                 lambda: night + timedelta(days=1))
    assert next_night() is True
    assert sent == ["first", "second"]


def test_a_failed_send_frees_the_night_for_another_scheduler(redis_url):
    night = datetime(2025, 12, 1, 21, 30)

    def broker_down():
        raise ConnectionError("broker unreachable")

    failing = NightlyEnqueuer(broker_down, KOLKATA, redis.Redis.from_url(redis_url), lambda: night)
    try:
        failing()
    except ConnectionError:
        pass
    sent = []
    assert NightlyEnqueuer(lambda: sent.append(1), KOLKATA, redis.Redis.from_url(redis_url), lambda: night)()
    assert sent == [1]


def test_the_nightly_actor_runs_the_etl(db, settings):
    from dramatiq.brokers.stub import StubBroker

    from workers.jobs import NIGHTLY_ETL, declare_actors

    declare_actors(StubBroker(), settings)[NIGHTLY_ETL]()
    with db.connect() as conn:
        run = conn.execute(sa.select(analytics_etl_runs)).one()
    assert (run.trigger, run.status) == ("scheduler", "succeeded")


def test_the_scheduler_runs_the_export_janitor_every_few_minutes():
    ran = []
    scheduler = build_scheduler(KOLKATA, lambda: None, lambda: ran.append("cleanup"))
    job = scheduler.get_job(CLEANUP_JOB_ID)
    first = job.trigger.get_next_fire_time(None, datetime.now(UTC))
    second = job.trigger.get_next_fire_time(first, first)
    assert timedelta(0) < second - first <= timedelta(minutes=5)
    job.func()
    assert ran == ["cleanup"]
