from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError
from workers.cli import main


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://localhost/wallet"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql+pymysql://root@127.0.0.1:3306"}, "DATABASE_URL"),
        ({"REPORT_TIMEZONE": "Mars/Olympus_Mons"}, "REPORT_TIMEZONE"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"ETL_LOOKBACK_DAYS": "-1"}, "ETL_LOOKBACK_DAYS"),
        ({"ETL_LOOKBACK_DAYS": "²"}, "ETL_LOOKBACK_DAYS"),
        ({"MAX_REQUEST_BODY_BYTES": "lots"}, "MAX_REQUEST_BODY_BYTES"),
        ({"EXPORT_ACCEL_PREFIX": "_export-files"}, "EXPORT_ACCEL_PREFIX"),
        ({"EXPORT_ACCEL_PREFIX": "/../etc/"}, "EXPORT_ACCEL_PREFIX"),
        ({"EXPORT_WEBHOOK_URL": "ftp://hooks.example.com/"}, "EXPORT_WEBHOOK_URL"),
        ({"EXPORT_WEBHOOK_URL": "https://hooks.example.com/exports"}, "WEBHOOK_SECRET"),
        ({"EXPORT_WEBHOOK_URL": "https://hooks.example.com/exports", "WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET"),
        ({"EXPORT_WEBHOOK_TIMEOUT_SECONDS": "0"}, "EXPORT_WEBHOOK_TIMEOUT_SECONDS"),
        ({"TRUSTED_PROXIES": "the nginx box"}, "TRUSTED_PROXIES"),
        ({}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"EXPORT_MAX_ROWS": "0"}, "EXPORT_MAX_ROWS"),
        ({"EXPORT_MAX_ROWS": "10000001"}, "EXPORT_MAX_ROWS"),
        ({"EXPORT_MAX_ROWS": "1e6"}, "EXPORT_MAX_ROWS"),
        ({"EXPORT_STORAGE": "s3://Bad_Bucket/x"}, "EXPORT_STORAGE"),
        ({"EXPORT_STORAGE": "s3://"}, "EXPORT_STORAGE"),
        ({"EXPORT_STORAGE": "s3://bucket/a b/"}, "EXPORT_STORAGE"),
        ({"EXPORT_S3_ENDPOINT_URL": "127.0.0.1:8333"}, "EXPORT_S3_ENDPOINT_URL"),
    ],
)
def test_a_bad_variable_is_named(env, variable):
    with pytest.raises(ConfigError) as raised:
        load_settings(env, needs_jwt_secret=True)
    assert str(raised.value).startswith(f"{variable}:")


def test_defaults_match_the_design_card():
    settings = load_settings({"JWT_SECRET": "s" * 32}, needs_jwt_secret=True)
    assert settings.database_url.get_backend_name() == "sqlite"
    assert settings.database_url.database == "var/wallet.db"
    assert settings.redis_url is None
    assert settings.export_dir == Path("var/exports")
    assert settings.report_timezone.key == "Asia/Kolkata"
    assert settings.etl_lookback_days == 2
    assert settings.export_max_rows == 100_000
    assert settings.export_s3 is None


@pytest.mark.parametrize("raw, bucket, prefix", [("s3://wallet-exports", "wallet-exports", ""),
                                                 ("s3://wallet-exports/", "wallet-exports", ""),
                                                 ("s3://wallet-exports/prod/files", "wallet-exports", "prod/files/")])
def test_s3_storage_is_a_bucket_and_a_prefix(raw, bucket, prefix):
    settings = load_settings({"EXPORT_STORAGE": raw, "EXPORT_MAX_ROWS": "10000000"})
    assert (settings.export_s3.bucket, settings.export_s3.prefix) == (bucket, prefix)
    assert settings.export_max_rows == 10_000_000


def test_a_storage_directory_is_the_export_directory():
    assert load_settings({"EXPORT_STORAGE": "/srv/exports", "EXPORT_DIR": "/elsewhere"}).export_dir == Path("/srv/exports")
    assert load_settings({"EXPORT_STORAGE": "/srv/exports"}).export_s3 is None


def test_the_demo_makes_and_keeps_its_own_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = load_settings({}, demo=True, needs_jwt_secret=True).jwt_secret
    second = load_settings({}, demo=True, needs_jwt_secret=True).jwt_secret
    assert first and first == second
    assert (tmp_path / "var" / "demo-jwt-secret").stat().st_mode & 0o077 == 0


def test_the_cli_stops_with_one_line_and_no_traceback(monkeypatch, capsys):
    monkeypatch.setenv("REPORT_TIMEZONE", "Nowhere/Special")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "wallet-analytics: configuration error: REPORT_TIMEZONE: unknown IANA time zone 'Nowhere/Special'"
    ]


def test_the_web_command_needs_a_jwt_secret(monkeypatch, capsys):
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("WALLET_ANALYTICS_DEMO", raising=False)
    assert main(["web"]) == 2
    assert "JWT_SECRET: required" in capsys.readouterr().err
