"""The admin dashboard's server side: its public static files and its two small admin routes."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from core.campaigns import list_campaigns
from core.locale import number_locale
from core.tables import promo_campaigns

META = "/api/v1/admin/analytics/meta"
CAMPAIGNS = "/api/v1/admin/analytics/campaigns"


def test_the_page_is_public_html_with_a_strict_policy(client):
    response = client.simulate_get("/admin/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert '<script type="module" src="/admin/js/app.js">' in response.text


def test_admin_without_a_slash_redirects(client):
    response = client.simulate_get("/admin")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/admin/")


@pytest.mark.parametrize("path, content_type", [
    ("/admin/js/app.js", "text/javascript"),
    ("/admin/app.css", "text/css"),
    ("/admin/vendor/chart.umd.min.js", "text/javascript"),
    ("/admin/favicon.svg", "image/svg+xml"),
])
def test_assets_are_public_with_their_content_type(client, path, content_type):
    response = client.simulate_get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(content_type)


def test_the_vendored_chart_library_is_the_pinned_build_with_its_licence(client):
    assert client.simulate_get("/admin/vendor/chart.umd.min.js").text.startswith("/*!\n * Chart.js v4.6.1")
    assert "MIT License" in client.simulate_get("/admin/vendor/chart.js-LICENSE.md").text


@pytest.mark.parametrize("path", [
    "/admin/../app.py",
    "/admin/..%2Fapp.py",
    "/admin/js/../../app.py",
    "/admin/%2e%2e/resources/dashboard.py",
    "/admin/..\\app.py",
    "/admin//etc/passwd",
    "/admin/js/missing.js",
])
def test_nothing_outside_the_static_folder_is_served(client, path):
    response = client.simulate_get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_meta_needs_a_token(client):
    assert client.simulate_get(META).status_code == 401
    assert client.simulate_get(CAMPAIGNS).status_code == 401


def test_meta_names_the_report_zone_and_its_today(client, admin_headers):
    response = client.simulate_get(META, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["report_timezone"] == "Asia/Kolkata"
    assert response.json["today"] == datetime.now(ZoneInfo("Asia/Kolkata")).date().isoformat()
    assert response.json["locale"] == "en-IN"


@pytest.mark.parametrize("zone, locale", [("Asia/Kolkata", "en-IN"), ("America/New_York", "en-US"),
                                          ("Europe/Berlin", "en-DE"), ("UTC", "en"), ("Etc/GMT+5", "en")])
def test_the_number_locale_is_the_zone_country_s(zone, locale):
    assert number_locale(ZoneInfo(zone)) == locale


def _add_campaign(engine, campaign_id, starts_at, ends_at=None):
    with engine.begin() as conn:
        conn.execute(sa.insert(promo_campaigns).values(
            id=campaign_id, name=f"Campaign {campaign_id}", starts_at=starts_at, ends_at=ends_at))


def test_campaigns_newest_first_in_the_report_zone(db, client, admin_headers):
    _add_campaign(db, "old", datetime(2025, 1, 1, 18, 30), datetime(2025, 2, 1))
    _add_campaign(db, "new", datetime(2025, 6, 1))
    response = client.simulate_get(CAMPAIGNS, headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"items": [
        {"id": "new", "name": "Campaign new", "starts_at": "2025-06-01T05:30:00+05:30", "ends_at": None},
        {"id": "old", "name": "Campaign old", "starts_at": "2025-01-02T00:00:00+05:30",
         "ends_at": "2025-02-01T05:30:00+05:30"},
    ]}


def test_no_campaigns_is_an_empty_list(db):
    assert list_campaigns(db, ZoneInfo("UTC")) == []
