"""The all-in-one demo: gunicorn with one threaded worker process that also runs the Dramatiq
worker and the scheduler's jobs, so exports, fold-ins and ETL messages are sent and consumed
without Redis or a second process."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from core.auth import mint_admin_token
from core.config import Settings
from core.db import get_engine
from core.demo_data import ADMIN_USERNAME
from core.errors import DomainError


class _DemoServer(BaseApplication):
    def __init__(self, settings: Settings, port: int):
        self._settings = settings
        self._port = port
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", f"127.0.0.1:{self._port}")
        self.cfg.set("workers", 1)
        self.cfg.set("threads", 8)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("post_worker_init", _start_in_process_worker)
        if "control_socket_disable" in self.cfg.settings:  # see deploy/gunicorn.conf.py
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from web.app import create_app
        from web.errors import install_gunicorn_error_pages

        install_gunicorn_error_pages()

        return create_app(self._settings)


def _start_in_process_worker(_gunicorn_worker) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from workers import actors
    from workers.broker import start_in_process_worker
    from workers.scheduler import scheduled_jobs

    start_in_process_worker(actors.broker)
    # The scheduler's jobs too: the demo folds changes in, cleans exports up and runs the nightly
    # ETL by itself.
    settings = actors.settings
    scheduled_jobs(settings, actors, None, BackgroundScheduler(timezone=settings.report_timezone)).start()


def serve(settings: Settings, port: int) -> int:
    # The in-process worker reads its settings from the environment: it is the demo too.
    os.environ.setdefault("WALLET_ANALYTICS_DEMO", "1")
    base_url = f"http://127.0.0.1:{port}"
    print(f"wallet-analytics demo: {base_url}  (database {settings.database_url.render_as_string()})")
    try:
        token = mint_admin_token(get_engine(settings.database_url), settings.jwt_secret, username=ADMIN_USERNAME)
        print(f"admin token: {token}")
        # The token rides in the fragment: browsers never send it to a server or in a Referer.
        print(f"dashboard: {base_url}/admin/#token={token}")
        print(f'try: curl -H "Authorization: Bearer $TOKEN" "{base_url}/readyz"')
    except DomainError as error:
        print(f"no admin token ({error.message}); run `wallet-analytics demo-data` first")
    _DemoServer(settings, port).run()
    return 0
