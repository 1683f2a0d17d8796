"""`make screenshots`: the admin dashboard on fresh demo data (SQLite, in-process worker), captured
in Debian's headless chromium at desktop (1440×900) and phone (390×844) sizes, light and dark."""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

# Run as a file from the repository root: the browser harness lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright
from sqlalchemy.engine import make_url

from core.auth import mint_admin_token
from core.db import get_engine
from core.demo_data import ADMIN_USERNAME
from tests.dashboard_harness import launch_chromium, open_signed_in, run_cli, served

VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}
SCHEMES = ("light", "dark")


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        database_url = f"sqlite:///{work}/wallet.db"
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "EXPORT_DIR": f"{work}/exports",
            "REPORT_TIMEZONE": "Asia/Kolkata",
            "WALLET_ANALYTICS_DEMO": "",
        }
        run_cli(env, "migrate")
        run_cli(env, "demo-data", "--users", "500", "--days", "120", "--seed", "1")
        token = mint_admin_token(get_engine(make_url(database_url)), env["JWT_SECRET"], username=ADMIN_USERNAME)
        with served(env, Path(work) / "server.log") as base_url, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for name, (width, height) in VIEWPORTS.items():
                for scheme in SCHEMES:
                    page = open_signed_in(browser, base_url, token, width=width, height=height, color_scheme=scheme)
                    path = out / f"dashboard-{name}-{scheme}.png"
                    page.screenshot(path=path, full_page=True)
                    page.close()
                    print(f"wrote {path}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
