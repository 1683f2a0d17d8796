"""The admin dashboard as an admin must be able to trust it, end to end in Debian's headless
chromium against the app on MariaDB + Redis with demo data: a layout that holds at every width in
light and dark, honest numbers (freshness, partial periods, like-for-like changes, one number
format, ISO dates), loading and error states, views in the URL with back/forward, and no serious
or critical accessibility violation (axe-core, vendored in tests/vendor)."""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import JWT_SECRET, make_token
from tests.dashboard_harness import (
    PANELS_SETTLED,
    demo_env,
    demo_server,
    live,
    open_signed_in,
    playwright_or_skip,
)

pytestmark = pytest.mark.browser

sync_api = playwright_or_skip()
expect = sync_api.expect

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
ALL_TABLES = "?tables=trend,features,composition"
KPI_KEYS = ["credited", "debited", "net", "revenue_in_inr", "active_users"]


@pytest.fixture(scope="module")
def server(mysql_url, redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard-quality")
    env = demo_env(mysql_url.render_as_string(hide_password=False), redis_url, JWT_SECRET, folder)
    with demo_server(env, folder) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def token():
    return make_token(exp=int(time.time()) + 3600)


@pytest.fixture(scope="module")
def with_an_export(server, token):
    """A ready export, so that the exports table is on the page whose layout is checked."""
    today = meta_today(server, token)
    request = urllib.request.Request(
        f"{server}/api/v1/admin/analytics/exports", method="POST",
        data=orjson.dumps({"type": "csv", "dataset": "transactions",
                           "filters": {"from": str(today - timedelta(days=6)), "to": str(today)}}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        export_id = orjson.loads(response.read())["export_id"]
    for _ in range(300):
        if live(server, token, f"/exports/{export_id}")["status"] != "preparing":
            break
        time.sleep(0.2)
    assert live(server, token, f"/exports/{export_id}")["status"] == "ready"
    return export_id


def meta_today(server, token):
    return date.fromisoformat(live(server, token, "/meta")["today"])


def query_of(page):
    return {name: values[0] for name, values in parse_qs(urlparse(page.url).query).items()}


def shown_range(page):
    query = query_of(page)
    return {"from": query["from"], "to": query["to"]}


def settle(page):
    page.wait_for_function(PANELS_SETTLED)


def data_values(page, selector, name="value"):
    return page.locator(selector).evaluate_all(f"(nodes) => nodes.map((n) => n.dataset.{name})")


# --- 1. layout -------------------------------------------------------------------------------

# Every visible element that is not a scroll container (nor a form control, which scrolls its own
# text) must hold its content: scrollWidth <= clientWidth. Every line of text, clipped to what its
# scroll containers show, must not overlap a line of another element (one not containing it).
LAYOUT_PROBLEMS = r"""() => {
  const problems = [];
  const name = (node) => `${node.tagName.toLowerCase()}${node.id ? "#" + node.id : ""}` +
    `${node.classList.length ? "." + [...node.classList].join(".") : ""} "${(node.textContent || "").trim().slice(0, 40)}"`;
  const shown = (node) => {
    if (node.closest("[hidden], .visually-hidden, canvas, script, style")) return false;
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== "hidden";
  };
  const scrolls = (style) => ["auto", "scroll"].includes(style.overflowX);
  if (document.documentElement.scrollWidth > innerWidth) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${innerWidth} px window`);
  }
  for (const node of document.querySelectorAll("body *")) {
    if (!shown(node) || ["INPUT", "SELECT", "TEXTAREA", "OPTION"].includes(node.tagName)) continue;
    const style = getComputedStyle(node);
    if (style.display.startsWith("inline") && style.display !== "inline-block" && style.display !== "inline-flex") continue;
    if (!scrolls(style) && node.scrollWidth > node.clientWidth + 1) {
      problems.push(`${name(node)} overflows: scrollWidth ${node.scrollWidth} > clientWidth ${node.clientWidth}`);
    }
  }
  const clipOf = (node) => {
    let clip = { left: -Infinity, right: Infinity, top: -Infinity, bottom: Infinity };
    for (let up = node.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX === "visible") continue;
      const box = up.getBoundingClientRect();
      clip = { left: Math.max(clip.left, box.left), right: Math.min(clip.right, box.right),
               top: Math.max(clip.top, box.top), bottom: Math.min(clip.bottom, box.bottom) };
    }
    return clip;
  };
  const lines = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const owner = text.parentElement;
    if (!text.textContent.trim() || !shown(owner)) continue;
    const clip = clipOf(owner);
    const range = document.createRange();
    range.selectNodeContents(text);
    for (const r of range.getClientRects()) {
      const box = { left: Math.max(r.left, clip.left), right: Math.min(r.right, clip.right),
                    top: Math.max(r.top, clip.top), bottom: Math.min(r.bottom, clip.bottom) };
      if (box.right - box.left > 1 && box.bottom - box.top > 1) lines.push({ owner, box, text: text.textContent.trim() });
    }
  }
  for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) {
      const [a, b] = [lines[i], lines[j]];
      if (a.owner === b.owner || a.owner.contains(b.owner) || b.owner.contains(a.owner)) continue;
      const across = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
      const down = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
      if (across > 1 && down > 1) problems.push(`"${a.text.slice(0, 40)}" overlaps "${b.text.slice(0, 40)}"`);
    }
  }
  return problems;
}"""

WIDTHS = [320, 390, 768, 1024, 1440, 1920]
DARK_PAGE = "rgb(18, 22, 31)"
LIGHT_PAGE = "rgb(244, 246, 250)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_layout_holds_at_every_width(browser, server, token, with_an_export, width, scheme):
    page = open_signed_in(browser, server, token, width=width, height=900, query=ALL_TABLES, color_scheme=scheme)
    expect(page.locator(f'#exports-table tr[data-export-id="{with_an_export}"]')).to_be_visible()
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == (DARK_PAGE if scheme == "dark" else LIGHT_PAGE)
    assert page.evaluate(LAYOUT_PROBLEMS) == []
    page.close()


def test_the_layout_check_finds_an_overflow_and_an_overlap(page):
    """The check itself: the two defects the issue reported, made again on purpose."""
    page.evaluate("""() => {
        const figure = document.querySelector('[data-panel="purchases"] dd');
        figure.style.whiteSpace = 'nowrap';
        figure.textContent = '₹' + '12,83,498.00'.repeat(8);
        const label = document.querySelector('.kpi h3');
        label.style.marginBottom = '-2em';
    }""")
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert any("overflows" in problem for problem in problems)
    assert any("overlaps" in problem for problem in problems)


# --- 7. accessibility ------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width, height", [(1440, 900), (390, 844)])
def test_no_serious_or_critical_accessibility_violation(browser, server, token, with_an_export, width, height, scheme):
    page = open_signed_in(browser, server, token, width=width, height=height, query=ALL_TABLES,
                          color_scheme=scheme, bypass_csp=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.close()


def test_every_chart_has_a_table_alternative(browser, server, token):
    page = open_signed_in(browser, server, token, query=ALL_TABLES)
    shown = shown_range(page)
    shares = live(server, token, "/tokens/composition", **shown)
    # As numbers: JavaScript writes 97.0 as "97", Python as "97.0".
    assert [float(v) for v in data_values(page, "#composition-table td")] == [shares["regular"], shares["promo"]]
    items = live(server, token, "/tokens/by-feature", **shown)["items"]
    assert data_values(page, "#features-plain-table tbody tr", "feature") == [item["feature"] for item in items]
    assert [float(v) for v in data_values(page, '#features-plain-table td[data-key="net"]')] == \
        [float(item["credited"] - item["debited"]) for item in items]
    trend_rows = page.locator("#trend-table tbody tr")
    expect(trend_rows.first).to_be_visible()
    page.close()


# --- 2. honest numbers -----------------------------------------------------------------------

def test_data_through_is_when_the_figures_were_read(browser, server, token):
    page = browser.new_page()
    instants = []
    page.on("response", lambda response: instants.append(response.headers["x-data-fresh-as-of"])
            if "/tokens/overview" in response.url and "x-data-fresh-as-of" in response.headers else None)
    page.goto(f"{server}/admin/#token={token}")
    settle(page)
    line = page.locator("#freshness")
    expect(line).to_contain_text("Data through ")
    shown_instant = re.search(r"Data through (\S+ \S+):", line.inner_text()).group(1)
    assert shown_instant in [instant.replace("T", " ")[:19] for instant in instants]
    today = meta_today(server, token)
    expect(line).to_contain_text(f"Today ({today}) is partial")
    status = live(server, token, "/status")
    expect(line).to_contain_text("wait to be folded into stored days" if status["pending_changes"] else
                                 "No change waits to be folded into stored days")
    page.close()


def test_data_through_says_when_the_fold_in_status_is_unavailable(browser, server, token):
    page = browser.new_page()
    page.route("**/api/v1/admin/analytics/status", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error": {"code": "service_unavailable", "message": "Database unavailable"}}'))
    page.goto(f"{server}/admin/#token={token}")
    settle(page)
    expect(page.locator("#freshness")).to_contain_text("Fold-in status unavailable (The API answered 503")
    expect(page.locator("#freshness")).to_contain_text("Data through ")
    page.close()


def partiality(label: date, granularity: str, first: date, last: date, today: date) -> list[str]:
    """Which of a bucket's days count, computed here independently of the page's dates.js."""
    if granularity == "daily":
        end = label
    elif granularity == "weekly":
        end = label + timedelta(days=6)
    else:
        end = (label.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    reasons = []
    if label < first:
        reasons.append(f"starts before {first}: only days from {first} count")
    if end > last:
        reasons.append(f"ends after {last}: only days through {last} count")
    if end >= today and today <= last:
        reasons.append("today, so far" if granularity == "daily" and label == today else "not over yet")
    return reasons


@pytest.mark.parametrize("granularity, first_back, last_back", [
    ("daily", 29, 0), ("weekly", 40, 0), ("weekly", 45, 10), ("monthly", 100, 0), ("monthly", 70, 3),
])
def test_today_and_partial_buckets_are_marked(browser, server, token, granularity, first_back, last_back):
    today = meta_today(server, token)
    first, last = today - timedelta(days=first_back), today - timedelta(days=last_back)
    page = open_signed_in(browser, server, token, query=f"?from={first}&to={last}&granularity={granularity}")
    labels = data_values(page, "#trend-table tbody tr", "date")
    expected = ["; ".join(partiality(date.fromisoformat(label), granularity, first, last, today)) for label in labels]
    assert data_values(page, "#trend-table tbody tr", "partial") == expected
    assert any(expected)  # every case above has a partial bucket
    for index, reasons in enumerate(expected):
        badge = page.locator("#trend-table tbody tr").nth(index).locator(".badge.partial")
        expect(badge).to_have_count(1 if reasons else 0)
    starred = page.evaluate("""() => {
        const chart = Chart.getChart(document.querySelector('#trend-chart'));
        const colours = chart.data.datasets[0].backgroundColor;
        return chart.data.labels.map((_, i) => colours[i].length === 9);
    }""")
    assert starred == [bool(reasons) for reasons in expected]
    expect(page.locator("#trend-partial")).to_contain_text("* Partial")
    page.close()


def comparison(first: date, last: date, today: date):
    """The like-for-like comparison, computed here independently of the page's dates.js:
    (compared range, previous range, label)."""
    last_complete = min(last, today - timedelta(days=1))
    if last_complete < first:
        return None
    days = (last_complete - first).days + 1
    if first.day == 1 and (last_complete.year, last_complete.month) == (first.year, first.month):
        month_before_end = first - timedelta(days=1)
        month_before = month_before_end.replace(day=1)
        if (last_complete + timedelta(days=1)).month != last_complete.month:
            return (first, last_complete), (month_before, month_before_end), f"vs {month_before:%Y-%m}"
        previous_last = min(month_before + timedelta(days=days - 1), month_before_end)
        count = (previous_last - month_before).days + 1
        return (first, last_complete), (month_before, previous_last), f"vs first {count} days of {month_before:%Y-%m}"
    return (first, last_complete), (first - timedelta(days=days), first - timedelta(days=1)), \
        f"vs previous {days} day{'s' if days != 1 else ''}"


@pytest.mark.parametrize("preset", ["30d", "7d", "this-month", "last-month", "days-ago", "month-start"])
def test_kpi_changes_compare_like_with_like_and_say_so(page, server, token, preset):
    today = meta_today(server, token)
    month_before = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    typed = {"days-ago": (today - timedelta(days=40), today - timedelta(days=12)),
             "month-start": (month_before, month_before + timedelta(days=9))}
    if preset in typed:
        page.fill("#range-from", str(typed[preset][0]))
        page.fill("#range-to", str(typed[preset][1]))
        page.click("#range-form button")
    else:
        page.click(f'[data-preset="{preset}"]')
    settle(page)
    shown = shown_range(page)
    first, last = date.fromisoformat(shown["from"]), date.fromisoformat(shown["to"])
    current = live(server, token, "/tokens/overview", **shown)
    assert [float(v) for v in data_values(page, ".kpi-value")] == [float(current[key]) for key in KPI_KEYS]
    expected = comparison(first, last, today)
    note = page.locator("#kpis-compare")
    if expected is None:
        expect(note).to_contain_text("No day of this range is over yet")
        expect(page.locator(".kpi-change")).to_have_count(0)
        return
    (c_first, c_last), (p_first, p_last), label = expected
    compared = live(server, token, "/tokens/overview", **{"from": str(c_first), "to": str(c_last)})
    previous = live(server, token, "/tokens/overview", **{"from": str(p_first), "to": str(p_last)})
    assert [float(v) for v in data_values(page, ".kpi-change", "compared")] == [float(compared[k]) for k in KPI_KEYS]
    assert [float(v) for v in data_values(page, ".kpi-change", "previous")] == [float(previous[k]) for k in KPI_KEYS]
    expect(note).to_contain_text(f"{c_first} – {c_last} {label} ({p_first} – {p_last})")
    if last >= today:
        expect(note).to_contain_text("today is left out until it is over")
    for change in page.locator(".kpi-change").all():
        expect(change).to_contain_text(label)


def lakh(value: float, decimals: int = 0) -> str:
    """en-IN grouping (12,34,567), written here independently of Intl."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):.{decimals}f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups = [head[max(0, i - 2):i] for i in range(len(head), 0, -2)][::-1]
    text = ",".join([*groups, tail]) if head else tail
    return sign + text + (f".{fraction}" if fraction else "")


def test_one_number_format_everywhere_including_the_chart(page):
    for node in page.locator('.kpi-value, #trend-table td[data-key="credited"], #purchases-stats dd[data-key="total_tokens"]').all():
        value = float(node.get_attribute("data-value"))
        key = node.evaluate("(n) => n.dataset.key || n.closest('[data-kpi]').dataset.kpi")
        expected = lakh(value, 2) if key == "revenue_in_inr" else lakh(value)
        assert node.text_content().replace("₹", "").replace("−", "-") == expected
    axes = page.evaluate("""() => {
        const chart = Chart.getChart(document.querySelector('#trend-chart'));
        const y = chart.options.scales.y;
        const tooltip = chart.options.plugins.tooltip.callbacks.label;
        return { tick: y.ticks.callback(1234567), y: y.title.text, x: chart.options.scales.x.title.text,
                 tooltip: tooltip({ dataset: { label: 'Credited' }, parsed: { y: 150000 } }) };
    }""")
    assert axes == {"tick": "12,34,567", "y": "Tokens", "x": "Day", "tooltip": "Credited: 1,50,000 tokens"}


def test_dates_are_iso_text_never_the_browser_locale(page, server, token):
    for selector in ["#range-from", "#range-to"]:
        field = page.locator(selector)
        expect(field).to_have_attribute("type", "text")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", field.input_value())
    before = shown_range(page)
    page.fill("#range-from", "11/02/2026")
    page.click("#range-form button")
    expect(page.locator("#range-message")).to_have_text("Dates must be real days in YYYY-MM-DD form.")
    assert shown_range(page) == before
    for label in data_values(page, "#trend-table tbody tr", "date"):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", label)


def test_nothing_the_page_asks_for_is_missing(browser, server, token):
    page = browser.new_page()
    failed = []
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    page.goto(f"{server}/admin/#token={token}")
    settle(page)
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert urllib.request.urlopen(f"{server}{icon}", timeout=10).status == 200
    assert failed == []
    page.close()


def test_an_unknown_campaign_is_said_and_all_campaigns_are_shown(browser, server, token):
    page = open_signed_in(browser, server, token, query="?campaign=nope")
    expect(page.locator("#campaign-message")).to_have_text('Unknown campaign "nope": showing all campaigns.')
    expect(page.locator("#campaign")).to_have_value("")
    assert page.locator("#campaign option:checked").inner_text() == "All campaigns"
    assert "campaign" not in query_of(page)
    body = live(server, token, "/promotions", **shown_range(page))
    assert data_values(page, '#promotions-stats dd[data-key="total_referrals"]') == [str(body["total_referrals"])]
    campaigns = live(server, token, "/campaigns")["items"]
    page.select_option("#campaign", campaigns[0]["id"])
    expect(page.locator("#campaign-message")).to_be_hidden()
    page.close()


# --- 5. loading and errors -------------------------------------------------------------------

def skeleton_shown(page, panel):
    return page.evaluate("""(name) => {
        const panel = document.querySelector(`[data-panel="${name}"]`);
        return panel.dataset.state === 'loading' && getComputedStyle(panel, '::after').content !== 'none';
    }""", panel)


def test_skeletons_stand_in_on_first_load_and_on_range_changes(browser, server, token):
    page = browser.new_page()
    held, holding = [], {"tokens/": True}

    def hold(route):
        if any(part in route.request.url and on for part, on in holding.items()):
            held.append(route)
        else:
            route.continue_()

    def release():
        holding.update({part: False for part in holding})
        while held:
            held.pop().continue_()

    page.route("**/api/v1/admin/analytics/**", hold)
    page.goto(f"{server}/admin/#token={token}")
    page.wait_for_selector("#dashboard-view:not([hidden])")
    for panel in ["kpis", "trend", "features", "composition"]:
        assert skeleton_shown(page, panel), panel
    release()
    settle(page)
    assert not skeleton_shown(page, "trend")
    holding["tokens/trend"] = True
    page.click('[data-preset="7d"]')
    page.wait_for_function("() => document.querySelector('[data-panel=\"trend\"]').dataset.state === 'loading'")
    assert skeleton_shown(page, "trend")
    assert page.evaluate("getComputedStyle(document.querySelector('#trend-chart').parentElement).visibility") == "hidden"
    release()
    settle(page)
    page.close()


def test_an_error_offers_try_again_which_retries(page, server, token):
    page.route("**/api/v1/admin/analytics/tokens/trend?*", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"error": {"code": "internal_error", "message": "Internal server error"}}'))
    page.click('[data-preset="90d"]')
    settle(page)
    trend = page.locator('[data-panel="trend"]')
    expect(trend).to_have_attribute("data-state", "error")
    page.unroute("**/api/v1/admin/analytics/tokens/trend?*")
    trend.get_by_role("button", name="Try again").click()
    settle(page)
    expect(trend).to_have_attribute("data-state", "ready")
    expect(trend.get_by_role("button", name="Try again")).to_have_count(0)
    series = live(server, token, "/tokens/trend", granularity="daily", **shown_range(page))["series"]
    assert data_values(page, "#trend-table tbody tr", "date") == [point["date"] for point in series]


# --- 6. views in the URL, back and forward ---------------------------------------------------

def test_back_and_forward_restore_each_view(page, server, token):
    campaign = live(server, token, "/campaigns")["items"][0]["id"]
    steps = []

    def record():
        settle(page)
        steps.append((query_of(page), data_values(page, "#trend-table tbody tr", "date")))

    record()
    page.click('[data-preset="7d"]')
    record()
    page.click('#granularity label:has(input[value="weekly"])')
    record()
    page.select_option("#campaign", campaign)
    record()
    page.click('[data-view="composition"] summary')
    page.wait_for_url("**tables=composition**")
    record()
    assert steps[-1][0]["tables"] == "composition" and steps[-1][0]["campaign"] == campaign
    assert len({str(query) for query, _ in steps}) == len(steps)

    def shows(query, dates):
        assert query_of(page) == query
        assert data_values(page, "#trend-table tbody tr", "date") == dates
        assert shown_range(page) == {"from": page.input_value("#range-from"), "to": page.input_value("#range-to")}
        expect(page.locator(f'input[name="granularity"][value="{query["granularity"]}"]')).to_be_checked()
        expect(page.locator("#campaign")).to_have_value(query.get("campaign", ""))
        expect(page.locator('[data-view="composition"]')).to_have_js_property("open", "composition" in query.get("tables", ""))

    for query, dates in reversed(steps[:-1]):
        page.go_back()
        settle(page)
        shows(query, dates)
    for query, dates in steps[1:]:
        page.go_forward()
        settle(page)
        shows(query, dates)
    body = live(server, token, "/promotions", campaign_id=campaign, **shown_range(page))
    assert data_values(page, '#promotions-stats dd[data-key="total_referrals"]') == [str(body["total_referrals"])]


# --- the page's date rules against the same rules written here ------------------------------

@pytest.fixture(scope="module")
def dates_module(browser, server, token):
    page = open_signed_in(browser, server, token)
    page.evaluate("async () => { window.datesUnderTest = await import('/admin/js/dates.js'); }")
    yield page
    page.close()


days_near = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=days_near, length=st.integers(0, 365), today=days_near)
def test_the_page_compares_the_ranges_this_test_computes(dates_module, first, length, today):
    last = first + timedelta(days=length)
    shown = dates_module.evaluate("([from, to, today]) => datesUnderTest.comparison({ from, to }, today)",
                                  [str(first), str(last), str(today)])
    expected = comparison(first, last, today)
    if expected is None:
        assert shown is None
        return
    (c_first, c_last), (p_first, p_last), label = expected
    assert shown == {"current": {"from": str(c_first), "to": str(c_last)},
                     "previous": {"from": str(p_first), "to": str(p_last)},
                     "label": label, "leavesOutToday": last >= today}
    assert (c_last - c_first) >= (p_last - p_first) or label.startswith("vs 20")  # never more days before


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=days_near, length=st.integers(0, 365), today=days_near, granularity=st.sampled_from(["daily", "weekly", "monthly"]),
       offset=st.integers(0, 400))
def test_the_page_marks_the_buckets_this_test_marks(dates_module, first, length, today, granularity, offset):
    last = first + timedelta(days=length)
    day = first + timedelta(days=min(offset, length))
    label = {"daily": day, "weekly": day - timedelta(days=day.weekday()), "monthly": day.replace(day=1)}[granularity]
    shown = dates_module.evaluate(
        "([label, granularity, from, to, today]) => datesUnderTest.bucketPartiality(label, granularity, { from, to }, today)",
        [str(label), granularity, str(first), str(last), str(today)])
    assert shown == partiality(label, granularity, first, last, today)
