"""The deploy files are valid for the tools that read them: `systemd-analyze verify` for the
units (with their install paths pointed at this checkout), every variable the code reads in the
env example."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = PROJECT_ROOT / "deploy"
INSTALL_DIR = "/opt/wallet-analytics"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install systemd (make test installs it)")
    return path


def test_the_systemd_units_verify(tmp_path):
    cli = Path(sys.executable).parent / "wallet-analytics"
    env_file = tmp_path / "env"
    env_file.write_text((DEPLOY / "env.example").read_text())
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text().replace(f"{INSTALL_DIR}/.venv/bin/wallet-analytics", str(cli))
        text = text.replace(INSTALL_DIR, str(PROJECT_ROOT)).replace("/etc/wallet-analytics/env", str(env_file))
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name))
    assert {Path(u).name for u in units} >= {
        "wallet-analytics-migrate.service", "wallet-analytics-web.service", "wallet-analytics-worker.service",
        "wallet-analytics-scheduler.service", "wallet-analytics-cleanup.service", "wallet-analytics-cleanup.timer"}
    result = subprocess.run([_tool("systemd-analyze"), "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "wallet-analytics" not in result.stderr, result.stderr


def test_every_variable_the_code_reads_is_in_the_env_example():
    example = (DEPLOY / "env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    sources = [*(PROJECT_ROOT / "core").rglob("*.py"), *(PROJECT_ROOT / "workers").rglob("*.py"),
               DEPLOY / "gunicorn.conf.py"]
    read = set()
    for source in sources:
        read |= set(re.findall(r'(?:env|environ)\.get\("([A-Z_]+)"', source.read_text()))
        read |= set(re.findall(r'_(?:non_negative_int|positive_int|bounded_int|choice|networks)\(env, "([A-Z_]+)"',
                               source.read_text()))
    read -= {"WALLET_ANALYTICS_DEMO"}  # the demo's switch, never set in production
    assert read - listed == set()
