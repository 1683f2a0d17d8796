"""gunicorn settings for `wallet-analytics web`; every value can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The app logs one line per request itself (web.middleware), in LOG_FORMAT, without the query
# string that gunicorn's access log would print (a download link's signature is in it).
accesslog = None
errorlog = "-"
# gunicorn 24+ opens a control socket at one fixed path per user; two instances would collide
# and nothing here uses it. (Older versions ignore the unknown name.)
control_socket_disable = True


def child_exit(server, worker):
    """A web worker that exits leaves its counters for /metrics but not its live gauges."""
    from core.metrics import mark_process_dead

    mark_process_dead(worker.pid)
