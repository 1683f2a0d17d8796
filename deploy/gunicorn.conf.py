"""gunicorn settings for `wallet-analytics web`, from the validated settings (core/config.py:
BIND, PORT, WEB_CONCURRENCY, WEB_THREADS, WEB_TIMEOUT).

The shipped deployment puts nginx (deploy/nginx.conf) in front: nginx holds slow and silent
clients, reads whole requests before it passes them on and takes whole responses at once, and
sends export files itself, so gunicorn's threads only ever wait on nginx. gunicorn alone gives a
thread to each connection for up to 5 s before it sends anything: see docs/reliability.md for
what that withstands.
"""

from core.config import load_settings
from web.errors import install_gunicorn_error_pages

_settings = load_settings()
# Loopback unless told otherwise: only nginx on this machine should reach gunicorn.
bind = _settings.bind
workers = _settings.web_concurrency
threads = _settings.web_threads
worker_class = "gthread"
timeout = _settings.web_timeout
graceful_timeout = 30
keepalive = 5
# gunicorn's parser limits, at their maximum, above nginx's (large_client_header_buffers 4 4k):
# nginx refuses an over-long request line or header first, with a JSON body.
limit_request_line = 8190
limit_request_fields = 32768
limit_request_field_size = 8190
# The app logs one line per request itself (web.middleware), in LOG_FORMAT, without the query
# string that gunicorn's access log would print (a download link's signature is in it).
accesslog = None
errorlog = "-"
# gunicorn 24+ opens a control socket at one fixed path per user; two instances would collide
# and nothing here uses it. (Older versions ignore the unknown name.)
control_socket_disable = True

# A request gunicorn itself cannot parse is answered in the API's JSON error shape, not HTML.
install_gunicorn_error_pages()


def child_exit(server, worker):
    """A web worker that exits leaves its counters for /metrics but not its live gauges."""
    from core.metrics import mark_process_dead

    mark_process_dead(worker.pid)
