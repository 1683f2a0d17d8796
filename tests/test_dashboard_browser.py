"""End-to-end: the admin dashboard in Debian's headless chromium, against the app served on
loopback on MariaDB + Redis with demo data, its exports made by an in-process Dramatiq worker.

Every figure on the page is compared with what the live API answers to the same question.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from tests.conftest import JWT_SECRET, make_token
from tests.dashboard_harness import (
    PANELS_SETTLED,
    api_get,
    demo_env,
    demo_server,
    live,
    open_signed_in,
    playwright_or_skip,
)

pytestmark = pytest.mark.browser

sync_api = playwright_or_skip()
expect = sync_api.expect


@pytest.fixture(scope="module")
def server(mysql_url, redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard")
    env = demo_env(mysql_url.render_as_string(hide_password=False), redis_url, JWT_SECRET, folder)
    with demo_server(env, folder) as base_url:
        yield base_url


@pytest.fixture
def token():
    return make_token()


def view(page):
    """The range and switches the page is showing, read from its shareable URL."""
    query = {name: values[0] for name, values in parse_qs(urlparse(page.url).query).items()}
    return query, {"from": query["from"], "to": query["to"]}


def settle(page):
    page.wait_for_function(PANELS_SETTLED)


def values(page, selector):
    return [float(value) for value in page.locator(selector).evaluate_all("(nodes) => nodes.map((n) => n.dataset.value)")]


def meta_today(server, token):
    return date.fromisoformat(api_get(server, token, "/meta")[1]["today"])


# --- sign-in ---------------------------------------------------------------------------------

def test_signing_in_by_pasting_a_token(browser, server, token):
    page = browser.new_page()
    page.goto(f"{server}/admin/")
    expect(page.locator("#sign-in-view")).to_be_visible()
    page.fill("#token-input", token)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#dashboard-view")).to_be_visible()
    expect(page.locator("#report-timezone")).to_have_text("Asia/Kolkata")
    expect(page.locator("#report-today")).to_have_text(meta_today(server, token).isoformat())
    assert page.evaluate("sessionStorage.getItem('wallet-analytics.token')") == token


def test_the_link_make_demo_prints_signs_in_and_leaves_no_token_in_the_address_bar(page, token):
    assert "token" not in page.url
    assert page.evaluate("location.hash") == ""
    expect(page.locator("#sign-out")).to_be_visible()


@pytest.mark.parametrize("bad_token, why", [
    ("not-a-jwt", "Token is invalid"),
    (make_token(secret="another-secret-" + "y" * 40), "Token is invalid"),
    (make_token(exp=int(time.time()) - 10), "Token has expired"),
])
def test_a_bad_token_shows_sign_in_again(browser, server, bad_token, why):
    page = browser.new_page()
    page.goto(f"{server}/admin/#token={bad_token}")
    expect(page.locator("#sign-in-view")).to_be_visible()
    expect(page.locator("#sign-in-message")).to_contain_text(why)
    assert page.evaluate("sessionStorage.getItem('wallet-analytics.token')") is None


def test_a_token_that_expires_during_the_session_sends_back_to_sign_in(browser, server):
    page = open_signed_in(browser, server, make_token(exp=int(time.time()) + 3))
    time.sleep(4)
    page.click('[data-preset="7d"]')
    expect(page.locator("#sign-in-view")).to_be_visible()
    expect(page.locator("#sign-in-message")).to_contain_text("Token has expired")


def test_signing_out_forgets_the_token_and_signing_in_again_starts_afresh(page, server, token):
    page.click("#sign-out")
    expect(page.locator("#sign-in-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('wallet-analytics.token')") is None
    page.evaluate("document.querySelectorAll('[data-panel]').forEach((panel) => delete panel.dataset.state)")
    page.fill("#token-input", token)
    page.click("#sign-in-form button")
    settle(page)  # the panels load after the campaigns
    campaigns = api_get(server, token, "/campaigns")[1]["items"]
    options = page.locator("#campaign option").evaluate_all("(nodes) => nodes.map((n) => n.value)")
    assert options == ["", *[campaign["id"] for campaign in campaigns]]


# --- the page itself -------------------------------------------------------------------------

def test_the_page_loads_nothing_from_another_origin(browser, server, token):
    page = browser.new_page()
    foreign = []
    page.on("request", lambda request: None if request.url.startswith(server) else foreign.append(request.url))
    page.goto(f"{server}/admin/#token={token}")
    settle(page)
    assert foreign == []
    assert page.evaluate("typeof window.Chart") == "function"


def test_a_shared_view_opens_as_it_was_shared(browser, server, token):
    today = meta_today(server, token)
    first, last = today - timedelta(days=20), today - timedelta(days=5)
    query = f"?from={first}&to={last}&granularity=weekly&metric=earn&limit=5"
    page = open_signed_in(browser, server, token, query=query)
    expect(page.locator("#range-from")).to_have_value(first.isoformat())
    expect(page.locator("#range-to")).to_have_value(last.isoformat())
    expect(page.locator('input[name="granularity"][value="weekly"]')).to_be_checked()
    expect(page.locator("#top-metric")).to_have_value("earn")
    expect(page.locator("#top-limit")).to_have_value("5")
    assert view(page)[0] == {"from": str(first), "to": str(last), "granularity": "weekly", "metric": "earn", "limit": "5"}


@pytest.mark.parametrize("preset, days_back, first_day", [("7d", 6, None), ("365d", 364, None), ("this-month", None, 1)])
def test_presets_are_keyboard_usable_and_end_today_in_the_report_zone(page, server, token, preset, days_back, first_day):
    today = meta_today(server, token)
    page.focus(f'[data-preset="{preset}"]')
    page.keyboard.press("Enter")
    expected_first = today - timedelta(days=days_back) if days_back is not None else today.replace(day=first_day)
    assert view(page)[1] == {"from": str(expected_first), "to": str(today)}
    expect(page.locator(f'[data-preset="{preset}"]')).to_have_attribute("aria-pressed", "true")


def test_the_granularity_switch_is_keyboard_usable(page):
    page.focus('input[name="granularity"]:checked')
    page.keyboard.press("ArrowRight")
    assert view(page)[0]["granularity"] == "weekly"
    expect(page.locator('input[name="granularity"][value="weekly"]')).to_be_focused()


def test_a_failing_panel_says_why_while_the_others_carry_on(page):
    page.route("**/api/v1/admin/analytics/tokens/trend?*", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"error": {"code": "internal_error", "message": "Internal server error; quote the X-Request-Id"}}'))
    page.click('[data-preset="90d"]')
    settle(page)
    trend = page.locator('[data-panel="trend"]')
    expect(trend).to_have_attribute("data-state", "error")
    expect(trend.locator(".panel-status")).to_have_text(
        "The API answered 500 internal_error: Internal server error; quote the X-Request-Id")
    expect(trend.locator(".chart-box")).to_be_hidden()
    expect(page.locator("#dashboard-view")).to_be_visible()


def test_a_slow_panel_shows_that_it_is_loading(page):
    held = []
    page.route("**/api/v1/admin/analytics/tokens/composition?*", lambda route: held.append(route))
    page.click('[data-preset="7d"]')
    composition = page.locator('[data-panel="composition"]')
    expect(composition).to_have_attribute("aria-busy", "true")
    expect(composition.locator(".panel-status")).to_have_text("Loading…")
    held[0].continue_()
    settle(page)


def test_last_month_is_the_whole_previous_calendar_month(page, server, token):
    first_of_this_month = meta_today(server, token).replace(day=1)
    page.click('[data-preset="last-month"]')
    last = first_of_this_month - timedelta(days=1)
    assert view(page)[1] == {"from": str(last.replace(day=1)), "to": str(last)}


@pytest.mark.parametrize("first, last, message", [
    ("2025-03-10", "2025-03-01", "must not be after"),
    ("2024-01-01", "2025-03-01", "the most is 365"),
])
def test_a_bad_range_is_explained_and_not_applied(page, first, last, message):
    before = view(page)[1]
    page.fill("#range-from", first)
    page.fill("#range-to", last)
    page.click("#range-form button")
    expect(page.locator("#range-message")).to_contain_text(message)
    assert view(page)[1] == before


# --- every panel shows the API's numbers -----------------------------------------------------

@pytest.mark.parametrize("granularity", ["weekly", "monthly", "daily"])
def test_the_trend_follows_the_granularity_switch(page, server, token, granularity):
    page.click('[data-preset="90d"]')
    page.click(f'#granularity label:has(input[value="{granularity}"])')
    settle(page)
    query, shown = view(page)
    assert query["granularity"] == granularity
    series = live(server, token, "/tokens/trend", granularity=granularity, **shown)["series"]
    rows = page.locator("#trend-table tbody tr")
    assert rows.evaluate_all("(rows) => rows.map((r) => r.dataset.date)") == [point["date"] for point in series]
    for key in ["credited", "debited", "net", "active_users", "revenue_in_inr"]:
        assert values(page, f'#trend-table td[data-key="{key}"]') == [float(point[key]) for point in series]


def test_features_and_composition_equal_the_api(page, server, token):
    _, shown = view(page)
    items = live(server, token, "/tokens/by-feature", **shown)["items"]
    shares = live(server, token, "/tokens/composition", **shown)
    rows = page.locator("#features-table tbody tr")
    assert rows.evaluate_all("(rows) => rows.map((r) => r.dataset.feature)") == [item["feature"] for item in items]
    assert values(page, '#features-table td[data-key="credited"]') == [float(item["credited"]) for item in items]
    assert values(page, '#features-table td[data-key="debited"]') == [float(item["debited"]) for item in items]
    assert values(page, "#composition dd") == [float(shares["regular"]), float(shares["promo"])]


@pytest.mark.parametrize("metric, limit", [("spend", "20"), ("earn", "5"), ("net", "100")])
def test_top_users_follow_the_metric_and_limit(page, server, token, metric, limit):
    page.select_option("#top-metric", metric)
    page.fill("#top-limit", limit)
    page.press("#top-limit", "Enter")
    settle(page)
    query, shown = view(page)
    assert (query["metric"], query["limit"]) == (metric, limit)
    items = live(server, token, "/users/top", metric=metric, limit=limit, **shown)["items"]
    rows = page.locator("#top-users-table tbody tr")
    assert rows.evaluate_all("(rows) => rows.map((r) => Number(r.dataset.userId))") == [i["user_id"] for i in items]
    assert values(page, f'#top-users-table td[data-key="{metric}"]') == [float(i[metric]) for i in items]


def test_purchases_equal_the_api(page, server, token):
    _, shown = view(page)
    body = live(server, token, "/purchases", **shown)
    shown_stats = page.locator("#purchases-stats dd").evaluate_all(
        "(nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.key, Number(n.dataset.value)]))")
    assert shown_stats == {key: float(value) for key, value in body.items()}


def test_promotions_follow_the_campaign_selector(page, server, token):
    campaigns = api_get(server, token, "/campaigns")[1]["items"]
    for campaign_id in ["", campaigns[0]["id"]]:
        page.select_option("#campaign", campaign_id)
        settle(page)
        query, shown = view(page)
        assert query.get("campaign", "") == campaign_id
        body = live(server, token, "/promotions", campaign_id=campaign_id, **shown)
        shown_stats = page.locator("#promotions-stats dd").evaluate_all(
            "(nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.key, Number(n.dataset.value)]))")
        assert shown_stats == {key: float(value) for key, value in body.items()}


def test_a_range_without_activity_shows_empty_states(browser, server, token):
    live(server, token, "/tokens/by-feature", **{"from": "2020-01-01", "to": "2020-01-31"})
    page = open_signed_in(browser, server, token, query="?from=2020-01-01&to=2020-01-31")
    for panel, message in [("features", "No feature had token activity"), ("top-users", "No user had token activity"),
                           ("purchases", "No paid purchases"), ("composition", "No token activity")]:
        expect(page.locator(f'[data-panel="{panel}"]')).to_have_attribute("data-state", "empty")
        expect(page.locator(f'[data-panel="{panel}"] .panel-status')).to_contain_text(message)


# --- exports ---------------------------------------------------------------------------------

def test_the_export_form_checks_what_the_api_would_refuse(page):
    page.fill('#export-filters [name="from"]', "")
    page.click("#export-form button[type=submit]")
    expect(page.locator("#export-message")).to_contain_text("Choose both a from and a to date")
    page.fill('#export-filters [name="from"]', "2025-01-01")
    page.fill('#export-filters [name="to"]', "2025-01-02")
    page.fill('#export-filters [name="user_id"]', "abc")
    page.click("#export-form button[type=submit]")
    expect(page.locator("#export-message")).to_contain_text("user_id must be a whole number")


def test_the_export_form_shows_the_api_error_message(page):
    message = "Estimated 250000 rows exceed the limit of 100000; narrow the filters"
    page.route("**/api/v1/admin/analytics/exports", lambda route: route.fulfill(
        status=422, content_type="application/json",
        body=f'{{"error": {{"code": "business_rule_violation", "message": "{message}"}}}}',
    ) if route.request.method == "POST" else route.continue_())
    page.click("#export-form button[type=submit]")
    expect(page.locator("#export-message")).to_contain_text(f"422 business_rule_violation: {message}")


TRANSACTIONS_CSV_HEADER = [
    "id", "user_id", "username", "email", "token_type", "direction", "reason", "amount",
    "balance_after_regular", "balance_after_promo", "reference_id", "metadata", "occurred_at",
]


@pytest.mark.parametrize("export_type", ["csv", "json"])
def test_an_export_is_created_becomes_ready_and_downloads(page, server, token, export_type):
    live(server, token, "/exports")
    page.click('[data-preset="7d"]')
    page.select_option("#export-dataset", "transactions")
    page.click(f'#export-form label:has(input[value="{export_type}"])')
    page.click("#export-form button[type=submit]")
    expect(page.locator("#export-message")).to_contain_text("created")
    export_id = page.locator("#export-message").inner_text().split()[1]
    row = page.locator(f'#exports-table tr[data-export-id="{export_id}"]')
    expect(row).to_have_attribute("data-status", "ready", timeout=60_000)  # polled by the page itself
    status = live(server, token, f"/exports/{export_id}")
    assert status["status"] == "ready"
    assert row.locator('td[data-key="rows"]').get_attribute("data-value") == str(status["actual_rows"])
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    if export_type == "csv":
        header, *rows = list(csv.reader(io.StringIO(content)))
        assert header == TRANSACTIONS_CSV_HEADER
    else:
        rows = orjson.loads(content)
    assert len(rows) == status["actual_rows"]
