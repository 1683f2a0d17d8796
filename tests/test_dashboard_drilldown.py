"""End-to-end in Debian's headless chromium: the dashboard's drill-down to transactions and its
exports panel (paging, filters, live status, cancel, retry), against the app served on loopback on
MariaDB + Redis with demo data, its exports made by the server's own Dramatiq worker.

Every row the page shows is compared with what the live API answers to the same question.
"""

from __future__ import annotations

import time
import urllib.request
from datetime import date, timedelta

import orjson
import pytest
import sqlalchemy as sa

from core.config import load_settings
from core.db import get_engine
from core.tables import EXPORT_TYPES, users
from tests.conftest import JWT_SECRET, make_token
from tests.dashboard_harness import (
    PANELS_SETTLED,
    demo_env,
    demo_server,
    live,
    open_signed_in,
    playwright_or_skip,
)
from tests.exports_support import WAIT_SECONDS, users_export_held

pytestmark = pytest.mark.browser

sync_api = playwright_or_skip()
expect = sync_api.expect

# Admins of their own, so each exports test sees only the exports it made.
PAGING_ADMIN, EXPORTS_ADMIN = 2, 3


@pytest.fixture(scope="module")
def stack(mysql_url, redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("drilldown")
    env = demo_env(mysql_url.render_as_string(hide_password=False), redis_url, JWT_SECRET, folder)
    engine = get_engine(mysql_url)

    def make_admins():
        with engine.begin() as conn:
            conn.execute(sa.update(users).where(users.c.id.in_([PAGING_ADMIN, EXPORTS_ADMIN])).values(role="admin"))

    with demo_server(env, folder, prepare=make_admins) as base_url:
        yield {"url": base_url, "engine": engine, "settings": load_settings(env, needs_jwt_secret=True)}


@pytest.fixture(scope="module")
def server(stack):
    return stack["url"]


@pytest.fixture
def token():
    return make_token()


def every_transaction(server, token, **filters) -> list[dict]:
    """All the rows of the drill-down's question, page after page."""
    rows, cursor = [], None
    while True:
        body = live(server, token, "/transactions", **filters, cursor=cursor)
        rows += body["transactions"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def shown_range(page) -> dict:
    return {"from": page.locator("#range-from").input_value(), "to": page.locator("#range-to").input_value()}


def drilled(page):
    """The drill-down once its page of rows has arrived."""
    panel = page.locator('[data-panel="drilldown"]')
    expect(panel).not_to_have_attribute("data-state", "closed")
    page.wait_for_function(PANELS_SETTLED)
    return panel


def shown_rows(page) -> list[list]:
    return page.locator("#drilldown-table tbody tr").evaluate_all(
        "(rows) => rows.map((r) => [r.dataset.id, Number(r.querySelector('[data-key=amount]').dataset.value)])")


def api_rows(body: dict) -> list[list]:
    return [[row["id"], row["amount"]] for row in body["transactions"]]


# --- drill-down --------------------------------------------------------------------------------

def busiest_feature(server, token, shown) -> str:
    """A feature with more than one page of transactions in the range."""
    for item in live(server, token, "/tokens/by-feature", **shown)["items"]:
        if live(server, token, "/transactions", **shown, reason=item["feature"])["next_cursor"]:
            return item["feature"]
    raise AssertionError("the demo data has no feature with over 50 transactions in the range")


def test_a_feature_opens_its_transactions_page_by_page(page, server, token):
    shown = shown_range(page)
    feature = busiest_feature(server, token, shown)
    page.locator(f'#features-table tr[data-feature="{feature}"] button.drill').click()
    panel = drilled(page)
    expect(panel.locator("#drilldown-title")).to_contain_text(f"Feature “{feature}”")
    first = live(server, token, "/transactions", **shown, reason=feature)
    assert shown_rows(page) == api_rows(first)
    assert len(first["transactions"]) == 50
    expect(panel.locator("#drilldown-page")).to_have_text("Page 1 · rows 1–50")
    expect(panel.locator("#drilldown-previous")).to_be_disabled()

    panel.locator("#drilldown-next").click()
    page.wait_for_function(PANELS_SETTLED)
    second = live(server, token, "/transactions", **shown, reason=feature, cursor=first["next_cursor"])
    expect(panel.locator("#drilldown-page")).to_contain_text("Page 2 · rows 51–")
    assert shown_rows(page) == api_rows(second)
    if second["next_cursor"]:
        expect(panel.locator("#drilldown-next")).to_be_enabled()
    else:
        expect(panel.locator("#drilldown-next")).to_be_disabled()

    panel.locator("#drilldown-previous").click()
    page.wait_for_function(PANELS_SETTLED)
    expect(panel.locator("#drilldown-page")).to_have_text("Page 1 · rows 1–50")
    assert shown_rows(page) == api_rows(first)


@pytest.mark.parametrize("metric, direction", [("spend", "debit"), ("earn", "credit"), ("net", None)])
def test_a_top_user_opens_the_transactions_their_metric_counts(page, server, token, metric, direction):
    page.select_option("#top-metric", metric)
    page.wait_for_function(PANELS_SETTLED)
    shown = shown_range(page)
    user_id = live(server, token, "/users/top", metric=metric, limit=20, **shown)["items"][0]["user_id"]
    page.locator(f'#top-users-table tr[data-user-id="{user_id}"] button.drill').click()
    drilled(page)
    filters = {**shown, "user_id": user_id, **({"direction": direction} if direction else {})}
    assert shown_rows(page) == api_rows(live(server, token, "/transactions", **filters))
    assert shown_rows(page)  # the user is in the list for having such transactions
    if direction:
        assert {row["direction"] for row in every_transaction(server, token, **filters)} == {direction}


def test_a_trend_bucket_opens_the_transactions_of_its_days_within_the_range(page, server, token):
    page.click('[data-preset="30d"]')
    page.click('#granularity label:has(input[value="weekly"])')
    page.wait_for_function(PANELS_SETTLED)
    shown = shown_range(page)
    series = live(server, token, "/tokens/trend", granularity="weekly", **shown)["series"]
    first_bucket = series[0]["date"]
    assert first_bucket <= shown["from"]  # a week's Monday: the drill-down starts at `from`
    page.click('[data-panel="trend"] summary')
    page.locator(f'#trend-table tr[data-date="{first_bucket}"] button.drill').click()
    panel = drilled(page)
    last_day = min(date.fromisoformat(first_bucket) + timedelta(days=6), date.fromisoformat(shown["to"]))
    filters = {"from": shown["from"], "to": last_day.isoformat()}
    expect(panel.locator("#drilldown-filters")).to_have_text(f"{filters['from']} → {filters['to']}")
    assert shown_rows(page) == api_rows(live(server, token, "/transactions", **filters))

    # The chart's bars open their bucket too.
    page.click("#drilldown-close")
    expect(panel).to_have_attribute("data-state", "closed")
    expect(panel.locator("#drilldown-table")).to_be_hidden()
    page.locator("#trend-chart").scroll_into_view_if_needed()
    box = page.locator("#trend-chart").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 30, box["y"] + box["height"] / 2)
    drilled(page)
    expect(panel.locator("#drilldown-title")).to_contain_text(f"Weekly bucket {series[-1]['date']}")


def test_export_these_fills_the_export_form_and_makes_that_export(page, server, token):
    shown = shown_range(page)
    feature = busiest_feature(server, token, shown)
    page.locator(f'#features-table tr[data-feature="{feature}"] button.drill').click()
    drilled(page)
    page.click("#drilldown-export")
    expect(page.locator("#export-dataset")).to_have_value("transactions")
    for name, value in {**shown, "reason": feature}.items():
        expect(page.locator(f'#export-filters [name="{name}"]')).to_have_value(value)
    for name in ("from", "to"):  # ISO text, never the browser's locale format
        expect(page.locator(f'#export-filters [name="{name}"]')).to_have_attribute("type", "text")
    expect(page.locator("#export-form button[type=submit]")).to_be_focused()
    page.click('#export-form label:has(input[value="json"])')
    page.click("#export-form button[type=submit]")
    message = page.locator("#export-message")
    expect(message).to_contain_text("ready", timeout=WAIT_SECONDS * 1000)
    export = live(server, token, f"/exports/{message.inner_text().split()[1]}")
    assert (export["dataset"], export["type"], export["filters"]) == ("transactions", "json", {**shown, "reason": feature})
    assert export["actual_rows"] == len(every_transaction(server, token, **shown, reason=feature))


def test_a_failing_drilldown_says_why_tries_again_and_a_late_answer_does_not_reopen_it(page):
    page.route("**/api/v1/admin/analytics/transactions?*", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error": {"code": "service_unavailable", "message": "Database unavailable; retry"}}'))
    page.locator("#features-table button.drill").first.click()
    panel = page.locator('[data-panel="drilldown"]')
    expect(panel).to_have_attribute("data-state", "error")
    expect(panel.locator(".panel-status")).to_have_text("The API answered 503 service_unavailable: Database unavailable; retry")
    expect(panel.locator("#drilldown-table")).to_be_hidden()

    page.unroute("**/api/v1/admin/analytics/transactions?*")
    panel.get_by_role("button", name="Try again").click()
    expect(panel).to_have_attribute("data-state", "ready")
    expect(panel.get_by_role("button", name="Try again")).to_have_count(0)

    held = []
    page.route("**/api/v1/admin/analytics/transactions?*", lambda route: held.append(route))
    page.locator("#features-table button.drill").first.click()
    expect(panel).to_have_attribute("data-state", "loading")
    page.click("#drilldown-close")
    with page.expect_response("**/api/v1/admin/analytics/transactions?*") as late:
        held[0].continue_()
    late.value.finished()
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")  # the page has read it
    assert panel.get_attribute("data-state") == "closed"
    expect(panel.locator("#drilldown-table")).to_be_hidden()


# --- the exports panel -------------------------------------------------------------------------

def admin_page(browser, server, user_id):
    token = make_token(sub=str(user_id))
    return open_signed_in(browser, server, token), token


def export_rows(page) -> list[str]:
    return page.locator("#exports-table tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.exportId)")


def wait_ready(server, token, export_id) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        body = live(server, token, f"/exports/{export_id}")
        if body["status"] != "preparing":
            return body
        time.sleep(0.1)
    raise AssertionError(f"export {export_id} still preparing after {WAIT_SECONDS} s")


def post_export(server, token, body) -> dict:
    request = urllib.request.Request(f"{server}/api/v1/admin/analytics/exports", data=orjson.dumps(body),
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def test_the_exports_list_pages_past_twenty_and_says_what_each_export_holds(browser, server):
    token = make_token(sub=str(PAGING_ADMIN))
    first_day = date(2025, 1, 1)
    for offset in range(22):  # one by one: at most three may be preparing at once
        day = (first_day + timedelta(days=offset)).isoformat()
        wait_ready(server, token, post_export(server, token, {
            "dataset": "transactions", "filters": {"from": day, "to": day, "direction": "debit"}})["export_id"])
    listed = [item["export_id"] for item in live(server, token, "/exports", limit=100)["exports"]]
    assert len(listed) == 22

    page, _ = admin_page(browser, server, PAGING_ADMIN)
    assert export_rows(page) == listed[:20]
    page.click("#exports-more")
    page.wait_for_function(PANELS_SETTLED)
    assert export_rows(page) == listed
    expect(page.locator("#exports-more")).to_be_hidden()
    # Every row is "transactions · csv"; the filters column tells them apart.
    filters = page.locator("#exports-table tbody td.filters-cell").all_inner_texts()
    assert filters[-1] == "2025-01-01 · direction debit"
    assert len(set(filters)) == 22
    page.close()


def test_a_created_export_turns_ready_in_place_and_the_message_follows(browser, server):
    page, token = admin_page(browser, server, EXPORTS_ADMIN)
    page.select_option("#export-dataset", "users")
    page.fill('#export-filters [name="from"]', "2020-01-01")
    page.fill('#export-filters [name="to"]', "2020-12-31")
    page.click("#export-form button[type=submit]")
    message = page.locator("#export-message")
    expect(message).to_contain_text("created")
    export_id = message.inner_text().split()[1]
    row = page.locator(f'#exports-table tr[data-export-id="{export_id}"]')
    expect(row).to_have_attribute("data-status", "ready", timeout=WAIT_SECONDS * 1000)
    expect(message).to_have_text(f"Export {export_id} created: ready, 0 rows.")
    assert live(server, token, f"/exports/{export_id}")["status"] == "ready"
    expect(row.locator("td.filters-cell")).to_have_text("2020-01-01 → 2020-12-31")
    expect(row.get_by_role("link", name="Download")).to_be_visible()
    page.close()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {WAIT_SECONDS} s")
        time.sleep(0.05)


def a_users_export_is_blocked(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE state LIKE '%lock%' AND info LIKE 'SELECT%FROM users%'")).scalar() > 0


def test_cancel_stops_a_running_export_and_expires_a_ready_one(browser, server, stack):
    engine, export_dir = stack["engine"], stack["settings"].export_dir
    token = make_token(sub=str(EXPORTS_ADMIN))
    ready = wait_ready(server, token, post_export(server, token, {"dataset": "users", "columns": ["id", "email"]})
                       ["export_id"])
    assert ready["status"] == "ready"
    with users_export_held(engine):
        running = post_export(server, token, {"dataset": "users", "columns": ["id", "username"]})["export_id"]
        wait_for(lambda: a_users_export_is_blocked(engine), "the worker waiting on its query")
        page, _ = admin_page(browser, server, EXPORTS_ADMIN)
        row = page.locator(f'#exports-table tr[data-export-id="{running}"]')
        expect(row).to_have_attribute("data-status", "preparing")
        row.get_by_role("button", name="Cancel").click()
        expect(row).to_have_attribute("data-status", "canceled")
        expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    # The worker goes on once the lock is gone, finds its export canceled and keeps no file.
    # Its temporary file (made before the query) goes only when the worker is done with it.
    wait_for(lambda: not a_users_export_is_blocked(engine) and not list(export_dir.glob(f"*{running}*")),
             "the worker done with the canceled export, leaving no file")
    assert live(server, token, f"/exports/{running}")["status"] == "canceled"

    row = page.locator(f'#exports-table tr[data-export-id="{ready["export_id"]}"]')
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "expired")
    expect(row.get_by_role("link", name="Download")).to_have_count(0)
    status = live(server, token, f"/exports/{ready['export_id']}")
    assert (status["status"], status["download_url"]) == ("expired", None)
    assert not (export_dir / f"{ready['export_id']}.csv").exists()
    page.close()


def test_a_failed_export_is_retried_with_the_same_request(browser, server, stack):
    export_dir = stack["settings"].export_dir
    page, token = admin_page(browser, server, EXPORTS_ADMIN)
    # The worker cannot write files while EXPORT_DIR is a file: the export fails for real.
    export_dir.mkdir(parents=True, exist_ok=True)
    parked = export_dir.with_name("exports-parked")
    export_dir.rename(parked)
    export_dir.write_text("not a directory")
    try:
        page.select_option("#export-dataset", "users")
        page.select_option('#export-filters [name="role"]', "admin")
        page.click("#export-form button[type=submit]")
        message = page.locator("#export-message")
        expect(message).to_contain_text("failed", timeout=WAIT_SECONDS * 1000)
        failed_id = message.inner_text().split()[1]
    finally:
        export_dir.unlink()
        parked.rename(export_dir)
    failed = live(server, token, f"/exports/{failed_id}")
    assert failed["status"] == "failed" and "Could not write the export file" in failed["error_message"]
    row = page.locator(f'#exports-table tr[data-export-id="{failed_id}"]')
    expect(row.locator(".error-text")).to_contain_text("Could not write the export file")

    row.get_by_role("button", name="Retry").click()
    expect(message).to_contain_text("ready", timeout=WAIT_SECONDS * 1000)
    retried_id = message.inner_text().split()[1]
    assert retried_id != failed_id
    retried = live(server, token, f"/exports/{retried_id}")
    assert {key: retried[key] for key in ("type", "dataset", "filters", "columns")} == \
        {key: failed[key] for key in ("type", "dataset", "filters", "columns")}
    assert retried["actual_rows"] == 3  # the demo's admin and the two made here
    assert export_rows(page)[0] == retried_id
    page.close()


def test_notification_state_reads_the_webhook_attempts_and_a_missing_field_as_none(page):
    states = page.evaluate("""async () => {
        const { notificationState } = await import('/admin/js/exports.js');
        const attempt = (event, n, delivered) => ({ event, attempt: n, status_code: delivered ? 200 : 500,
            error: null, attempted_at: `2025-11-01T10:0${n}:00+05:30`, delivered });
        return [
            notificationState(undefined),
            notificationState([]),
            notificationState([attempt('export.ready', 1, false), attempt('export.ready', 2, true)]),
            notificationState([attempt('export.ready', 1, false), attempt('export.ready', 2, false),
                               attempt('export.ready', 3, false)]),
        ];
    }""")
    assert states == ["", "", "webhook delivered (export.ready)", "webhook retrying (3)"]
    expect(page.locator("#exports-table thead")).to_contain_text("Notifications")


def test_a_row_shows_its_notification_state_once_the_api_reports_it(browser, server):
    """This server has no EXPORT_WEBHOOK_URL, so its exports' `notifications` are empty: two failed
    attempts are put into the API's own answer (webhook delivery itself is tested against a real
    receiver in tests/test_exports_webhooks.py)."""
    token = make_token(sub=str(EXPORTS_ADMIN))
    wait_ready(server, token, post_export(server, token, {"dataset": "users", "columns": ["email"]})["export_id"])
    page, _ = admin_page(browser, server, EXPORTS_ADMIN)
    attempts = [{"event": "export.ready", "attempt": n, "status_code": 500, "error": None,
                 "attempted_at": f"2025-11-01T10:0{n}:00+05:30", "delivered": False} for n in (1, 2)]

    def with_notifications(route):
        body = route.fetch().json()
        body["exports"][0]["notifications"] = attempts
        route.fulfill(json=body)

    page.route("**/api/v1/admin/analytics/exports", with_notifications)
    page.click("#exports-refresh")
    page.wait_for_function(PANELS_SETTLED)
    cells = page.locator("#exports-table tbody td.notifications").all_inner_texts()
    assert cells[0] == "webhook retrying (2)"
    assert set(cells[1:]) <= {""}  # no field, no webhooks
    page.close()


def test_the_type_choices_are_the_apis(page):
    shown = page.locator('#export-type input[name="type"]').evaluate_all("(nodes) => nodes.map((n) => n.value)")
    assert shown == list(EXPORT_TYPES)
    expect(page.locator('#export-type input[value="csv"]')).to_be_checked()
