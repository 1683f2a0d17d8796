"""The admin dashboard: its page (public, it holds no data) and two small admin routes it needs
besides the analytics and exports APIs: the report zone with its current day and number locale,
and the campaigns."""

from __future__ import annotations

from pathlib import Path

import falcon

from core.campaigns import list_campaigns
from core.dates import local_today
from core.locale import number_locale

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The page runs only its own files: no inline script or style, no other origin, not framed.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class AdminPage:
    public = True

    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_HTML
        resp.set_headers(PAGE_HEADERS)
        resp.data = (STATIC_DIR / "index.html").read_bytes()


class AdminPageRedirect:
    """`/admin` → `/admin/`, so that the page's relative module URLs resolve under /admin/."""

    public = True

    def on_get(self, req, resp):
        resp.status = falcon.HTTP_301
        resp.location = "/admin/"


class ReportMeta:
    def __init__(self, tz):
        self._tz = tz

    def on_get(self, req, resp):
        resp.media = {"report_timezone": self._tz.key, "today": local_today(self._tz).isoformat(),
                      "locale": number_locale(self._tz)}


class Campaigns:
    def __init__(self, engine, tz):
        self._engine = engine
        self._tz = tz

    def on_get(self, req, resp):
        resp.media = {"items": list_campaigns(self._engine, self._tz)}
