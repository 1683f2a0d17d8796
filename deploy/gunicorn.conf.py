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
# One line per request, with the request id the middleware echoes.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
errorlog = "-"
# gunicorn 24+ opens a control socket at one fixed path per user; two instances would collide
# and nothing here uses it. (Older versions ignore the unknown name.)
control_socket_disable = True
