"""Configuration from the environment, validated once at start-up (see DESIGN.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError
from core.logs import FORMATS, LEVELS
from core.numbers import is_ascii_digits

VAR_DIR = Path("var")
# prometheus-client's own variable: where every process of a host writes its metrics (core.metrics).
PROMETHEUS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'wallet.db'}"
DEMO_SECRET_FILE = VAR_DIR / "demo-jwt-secret"
SUPPORTED_DRIVERS = {"sqlite", "mysql", "mariadb"}
MIN_SECRET_BYTES = 32
_ACCEL_PREFIX = re.compile(r"/([A-Za-z0-9_][A-Za-z0-9._-]*/)+")
_WEBHOOK_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
# A fixed label keeps the derived download key distinct from the JWT key it comes from.
DOWNLOAD_KEY_LABEL = b"wallet-analytics/download-links/v1"
# The spec's cap on an export's rows, and how far an operator may raise it.
DEFAULT_EXPORT_MAX_ROWS, MAX_EXPORT_MAX_ROWS = 100_000, 10_000_000
S3_SCHEME = "s3://"
# An S3 bucket name (the rules of AWS's general purpose buckets, simplified) and a key prefix.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PREFIX = re.compile(r"([A-Za-z0-9!_.*'()-]+/)*")


@dataclass(frozen=True)
class S3Location:
    """Where exports go when EXPORT_STORAGE is `s3://bucket/prefix`: keys are `<prefix><file name>`."""

    bucket: str
    prefix: str  # "" or ends with "/"


@dataclass(frozen=True)
class Settings:
    database_url: URL
    redis_url: str | None
    jwt_secret: str | None
    download_secret: str | None
    export_dir: Path
    report_timezone: ZoneInfo
    etl_lookback_days: int
    export_stuck_minutes: int
    fold_interval_seconds: int
    log_format: str
    log_level: str
    port: int
    bind: str
    web_concurrency: int
    web_threads: int
    web_timeout: int
    metrics_dir: Path
    metrics_allow: tuple[IPv4Network | IPv6Network, ...]
    worker_processes: int
    worker_threads: int
    export_requeue_minutes: int
    export_max_active_per_admin: int
    max_request_body_bytes: int
    export_accel_prefix: str | None
    worker_idle_poll_ms: int
    worker_heartbeat_timeout_ms: int
    worker_maintenance_interval_ms: int
    export_webhook_url: str | None
    webhook_secret: str | None
    export_webhook_timeout_seconds: int
    export_webhook_min_backoff_ms: int
    export_webhook_max_backoff_ms: int
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    export_max_rows: int
    export_s3: S3Location | None
    export_s3_endpoint_url: str | None
    demo: bool

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.get_backend_name() == "sqlite"


def load_settings(
    environ: Mapping[str, str] | None = None, *, demo: bool = False, needs_jwt_secret: bool = False,
    needs_download_secret: bool = False,
) -> Settings:
    """Read and check every variable; raise ConfigError naming the first bad one.

    `needs_jwt_secret` is for the processes that verify or mint tokens (web, token). In the
    demo a missing JWT_SECRET is replaced by a random one kept under var/ so that the token
    printed by `make demo` stays valid across restarts. `needs_download_secret` is for the
    processes that sign download links (workers): DOWNLOAD_SECRET, or one derived from JWT_SECRET.
    """
    env = os.environ if environ is None else environ
    demo = demo or _flag(env, "WALLET_ANALYTICS_DEMO")
    raw_download_secret = env.get("DOWNLOAD_SECRET") or None
    needs_jwt_secret = needs_jwt_secret or (needs_download_secret and raw_download_secret is None)
    return Settings(
        database_url=_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
        redis_url=_redis_url(env.get("REDIS_URL") or None),
        export_dir=_export_dir(env),
        export_s3=_s3_location(env.get("EXPORT_STORAGE") or None),
        export_s3_endpoint_url=_endpoint_url(env.get("EXPORT_S3_ENDPOINT_URL") or None),
        export_max_rows=_bounded_int(env, "EXPORT_MAX_ROWS", DEFAULT_EXPORT_MAX_ROWS, MAX_EXPORT_MAX_ROWS),
        report_timezone=_timezone(env.get("REPORT_TIMEZONE") or "Asia/Kolkata"),
        etl_lookback_days=_non_negative_int(env, "ETL_LOOKBACK_DAYS", 2),
        export_stuck_minutes=_non_negative_int(env, "EXPORT_STUCK_MINUTES", 15),
        fold_interval_seconds=_positive_int(env, "FOLD_INTERVAL_SECONDS", 10),
        log_format=_choice(env, "LOG_FORMAT", FORMATS, "text"),
        log_level=_choice(env, "LOG_LEVEL", LEVELS, "INFO", fold=str.upper),
        port=(port := _port(env)),
        bind=_bind(env.get("BIND") or f"127.0.0.1:{port}"),
        web_concurrency=_positive_int(env, "WEB_CONCURRENCY", os.cpu_count() or 1),
        web_threads=_positive_int(env, "WEB_THREADS", 4),
        web_timeout=_positive_int(env, "WEB_TIMEOUT", 60),
        metrics_dir=Path(env.get("METRICS_DIR") or VAR_DIR / "metrics"),
        metrics_allow=_networks(env, "METRICS_ALLOW", "127.0.0.1/32,::1/128"),
        worker_processes=_positive_int(env, "WORKER_PROCESSES", 2),
        worker_threads=_positive_int(env, "WORKER_THREADS", 4),
        export_requeue_minutes=_non_negative_int(env, "EXPORT_REQUEUE_MINUTES", 5),
        export_max_active_per_admin=_non_negative_int(env, "EXPORT_MAX_ACTIVE_PER_ADMIN", 3),
        max_request_body_bytes=_positive_int(env, "MAX_REQUEST_BODY_BYTES", 64 * 1024),
        export_accel_prefix=_accel_prefix(env.get("EXPORT_ACCEL_PREFIX") or None),
        worker_idle_poll_ms=_positive_int(env, "WORKER_IDLE_POLL_MS", 100),
        worker_heartbeat_timeout_ms=_positive_int(env, "WORKER_HEARTBEAT_TIMEOUT_MS", 20_000),
        worker_maintenance_interval_ms=_positive_int(env, "WORKER_MAINTENANCE_INTERVAL_MS", 5_000),
        export_webhook_url=(webhook_url := _webhook_url(env.get("EXPORT_WEBHOOK_URL") or None)),
        webhook_secret=_webhook_secret(env.get("WEBHOOK_SECRET") or None, webhook_url),
        export_webhook_timeout_seconds=_positive_int(env, "EXPORT_WEBHOOK_TIMEOUT_SECONDS", 10),
        export_webhook_min_backoff_ms=_positive_int(env, "EXPORT_WEBHOOK_MIN_BACKOFF_MS", 15_000),
        # Dramatiq's compute_backoff doubles min_backoff per retry up to this: an hour apart at most.
        export_webhook_max_backoff_ms=_positive_int(env, "EXPORT_WEBHOOK_MAX_BACKOFF_MS", 3_600_000, digits=8),
        trusted_proxies=_networks(env, "TRUSTED_PROXIES", ""),
        jwt_secret=(jwt_secret := _jwt_secret(env.get("JWT_SECRET") or None, demo=demo, needed=needs_jwt_secret)),
        download_secret=_download_secret(raw_download_secret, jwt_secret),
        demo=demo,
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _database_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL: cannot parse {raw!r} as a SQLAlchemy URL") from None
    if url.get_backend_name() not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"DATABASE_URL: unsupported database {url.get_backend_name()!r} (use mysql+pymysql:// or sqlite:///)"
        )
    if url.get_backend_name() != "sqlite" and not url.database:
        raise ConfigError("DATABASE_URL: names no database (e.g. mysql+pymysql://root@127.0.0.1:3306/wallet)")
    return url


def _redis_url(raw: str | None) -> str | None:
    if raw is not None and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL: {raw!r} is not a redis:// URL")
    return raw


def _timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"REPORT_TIMEZONE: unknown IANA time zone {name!r}") from None


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not is_ascii_digits(raw, 6):
        raise ConfigError(f"{name}: expected a whole number of 0 or more, got {raw!r}")
    return int(raw)


def _networks(env: Mapping[str, str], name: str, default: str) -> tuple[IPv4Network | IPv6Network, ...]:
    raw = env.get(name) or default
    try:
        return tuple(ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"{name}: expected addresses or networks separated by commas ({error})") from None


def _bind(raw: str) -> str:
    """gunicorn's BIND: HOST:PORT ([v6]:PORT too), or unix:PATH."""
    host, _, port = raw.rpartition(":")
    if raw.startswith("unix:") or (host and is_ascii_digits(port, 5) and 0 < int(port) <= 65535):
        return raw
    raise ConfigError(f"BIND: expected HOST:PORT or unix:PATH, got {raw[:60]!r}")


def _port(env: Mapping[str, str]) -> int:
    port = _positive_int(env, "PORT", 8000)
    if port > 65535:
        raise ConfigError(f"PORT: expected a port from 1 to 65535, got {port}")
    return port


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str, fold=str.lower) -> str:
    raw = env.get(name) or default
    if fold(raw) not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw[:40]!r}")
    return fold(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int, digits: int = 6) -> int:
    raw = env.get(name) or str(default)
    if not is_ascii_digits(raw, digits) or int(raw) == 0:
        raise ConfigError(f"{name}: expected a whole number of 1 or more, got {raw[:40]!r}")
    return int(raw)


def _bounded_int(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = env.get(name) or str(default)
    if not is_ascii_digits(raw, len(str(most))) or not 1 <= int(raw) <= most:
        raise ConfigError(f"{name}: expected a whole number from 1 to {most:,}, got {raw[:40]!r}")
    return int(raw)


def _export_dir(env: Mapping[str, str]) -> Path:
    """EXPORT_STORAGE as a directory, else EXPORT_DIR: where the files are, or (with S3) nothing."""
    storage = env.get("EXPORT_STORAGE") or ""
    if storage and not storage.startswith(S3_SCHEME):
        return Path(storage)
    return Path(env.get("EXPORT_DIR") or VAR_DIR / "exports")


def _s3_location(raw: str | None) -> S3Location | None:
    if raw is None or not raw.startswith(S3_SCHEME):
        return None
    bucket, _, prefix = raw[len(S3_SCHEME):].partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if not _BUCKET.fullmatch(bucket) or not _KEY_PREFIX.fullmatch(prefix):
        raise ConfigError(f"EXPORT_STORAGE: expected a directory or s3://bucket/prefix (a lower-case bucket name, "
                          f"a prefix of letters, digits and /), got {raw[:80]!r}")
    return S3Location(bucket, prefix)


def _endpoint_url(raw: str | None) -> str | None:
    if raw is not None and not re.fullmatch(r"https?://[^\s/?#]+/?", raw):
        raise ConfigError(f"EXPORT_S3_ENDPOINT_URL: expected http(s)://host[:port], got {raw[:80]!r}")
    return raw


def _accel_prefix(raw: str | None) -> str | None:
    """The URI prefix of nginx's internal location over EXPORT_DIR (downloads by X-Accel-Redirect)."""
    if raw is not None and not _ACCEL_PREFIX.fullmatch(raw):
        raise ConfigError(f"EXPORT_ACCEL_PREFIX: expected a path such as /_export-files/ (starting and ending "
                          f"with /), got {raw!r}")
    return raw


def _webhook_url(raw: str | None) -> str | None:
    if raw is not None and not _WEBHOOK_URL.fullmatch(raw):
        raise ConfigError(f"EXPORT_WEBHOOK_URL: expected an http:// or https:// URL, got {raw[:80]!r}")
    return raw


def _webhook_secret(raw: str | None, webhook_url: str | None) -> str | None:
    if webhook_url is None:
        return raw
    if raw is None:
        raise ConfigError("WEBHOOK_SECRET: required when EXPORT_WEBHOOK_URL is set (the key events are signed with)")
    if len(raw.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"WEBHOOK_SECRET: too short; use at least {MIN_SECRET_BYTES} bytes")
    return raw


def _jwt_secret(raw: str | None, *, demo: bool, needed: bool) -> str | None:
    if raw is None:
        if not needed:
            return None
        if not demo:
            raise ConfigError("JWT_SECRET: required (the HS256 secret admin tokens are signed with)")
        return _demo_secret()
    if len(raw.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"JWT_SECRET: too short; use at least {MIN_SECRET_BYTES} bytes (RFC 7518 for HS256)")
    return raw


def _download_secret(raw: str | None, jwt_secret: str | None) -> str | None:
    if raw is not None:
        if len(raw.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"DOWNLOAD_SECRET: too short; use at least {MIN_SECRET_BYTES} bytes")
        return raw
    if jwt_secret is None:
        return None
    return hmac.new(jwt_secret.encode(), DOWNLOAD_KEY_LABEL, hashlib.sha256).hexdigest()


def _demo_secret() -> str:
    if DEMO_SECRET_FILE.exists():
        return DEMO_SECRET_FILE.read_text().strip()
    DEMO_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    DEMO_SECRET_FILE.write_text(secret)
    DEMO_SECRET_FILE.chmod(0o600)
    return secret
