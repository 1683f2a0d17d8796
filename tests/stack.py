"""The shipped web deployment on loopback, for the tests and the soak: gunicorn with
deploy/gunicorn.conf.py (`wallet-analytics web`), and Debian's nginx with deploy/nginx-api.conf in
a server block of its own config, prefix and temporary directories (never the system service).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.bench.services import LOOPBACK, PROJECT_ROOT, ManagedProcess, free_port, wait_ready

NGINX_API_CONF = PROJECT_ROOT / "deploy" / "nginx-api.conf"
NGINX_SITE_CONF = PROJECT_ROOT / "deploy" / "nginx.conf"
# Where the shipped site expects things that a test puts elsewhere.
SITE_PATHS = {
    "/opt/wallet-analytics/deploy/nginx-api.conf": "{api_conf}",
    "/etc/ssl/certs/analytics.example.com.pem": "{certificate}",
    "/etc/ssl/private/analytics.example.com.key": "{key}",
}
ACCEL_PREFIX = "/_export-files/"
START_SECONDS = 30

SITE_CHECK_CONF = """\
pid {prefix}/nginx.pid;
events {{ }}
http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream wallet_analytics {{
        server {loopback}:{upstream_port};
        keepalive 16;
        keepalive_timeout 4s;
    }}
    server {{
        listen {loopback}:{port};
        include {api_conf};
        location {accel_prefix} {{
            internal;
            alias {export_dir}/;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def write_nginx_conf(prefix: Path, port: int, upstream_port: int, export_dir: Path) -> Path:
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        # As root, nginx's workers would run as nobody, who cannot read a test's private directories.
        user="user root;\n" if os.geteuid() == 0 else "",
        prefix=prefix, loopback=LOOPBACK, port=port, upstream_port=upstream_port, api_conf=NGINX_API_CONF,
        accel_prefix=ACCEL_PREFIX, export_dir=export_dir.resolve(),
    ))
    return conf


def write_site_check_conf(prefix: Path) -> Path:
    """A config around deploy/nginx.conf as shipped (for `nginx -t`), its paths moved here and a
    throwaway self-signed certificate in place of the real one."""
    prefix.mkdir(parents=True, exist_ok=True)
    certificate, key = prefix / "site.pem", prefix / "site.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=soak",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True, timeout=60)
    site = NGINX_SITE_CONF.read_text()
    for shipped, here in SITE_PATHS.items():
        if shipped not in site:
            raise AssertionError(f"deploy/nginx.conf no longer names {shipped}; update tests/stack.py")
        site = site.replace(shipped, here.format(api_conf=NGINX_API_CONF, certificate=certificate, key=key))
    (prefix / "site.conf").write_text(site)
    conf = prefix / "nginx.conf"
    conf.write_text(SITE_CHECK_CONF.format(prefix=prefix, site=prefix / "site.conf"))
    return conf


def check_nginx_conf(binary: str, conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "-t", "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf)],
                          capture_output=True, text=True, timeout=60, check=False)


class Nginx:
    """nginx in the foreground, in its own process group, on a free loopback port."""

    def __init__(self, binary: str, prefix: Path, upstream_port: int, export_dir: Path):
        self.port = free_port()
        self.conf = write_nginx_conf(prefix, self.port, upstream_port, export_dir)
        checked = check_nginx_conf(binary, self.conf)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused {self.conf}: {checked.stderr}")
        self.process = subprocess.Popen(
            [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}; see {self.conf.parent}/error.log")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Gunicorn:
    """`wallet-analytics web` (deploy/gunicorn.conf.py) on a free loopback port."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.env = {**os.environ, **env, "BIND": f"{LOOPBACK}:{self.port}", "WEB_CONCURRENCY": str(workers),
                    "WEB_THREADS": str(threads)}
        self.process = ManagedProcess("web", ["web"], self.env, log_dir)
        try:
            wait_ready(self.port, self.process, timeout=START_SECONDS)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()
