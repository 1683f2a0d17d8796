"""The analytics routes through HTTP: the spec's scenarios 1, 2 and 4, and every validation rule."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from core.materialize import materialize_day
from tests.factories import (
    add_campaign,
    add_ledger,
    add_purchase,
    add_referral,
    add_user,
)

API = "/api/v1/admin/analytics"
KOLKATA = ZoneInfo("Asia/Kolkata")


def _get(client, headers, path, query):
    return client.simulate_get(f"{API}{path}", query_string=query, headers=headers)


@pytest.mark.parametrize("materialized", [False, True], ids=["live", "materialized"])
def test_scenario_1_overview(db, client, admin_headers, materialized):
    add_user(db, 2)
    # Spec times read as local (Kolkata) times: 10:00 IST is 04:30 UTC.
    add_ledger(db, 1, "credit", 1000, "2025-11-01 04:30:00", reason="purchase")
    add_ledger(db, 1, "debit", 500, "2025-11-01 05:30:00", reason="chapter_generation")
    add_ledger(db, 2, "credit", 100, "2025-11-01 06:30:00", token_type="promo", reason="referral_bonus")
    if materialized:
        materialize_day(db, date(2025, 11, 1), KOLKATA)

    response = _get(client, admin_headers, "/tokens/overview", "from=2025-11-01&to=2025-11-01")

    assert response.status_code == 200
    assert response.json == {"credited": 1100, "debited": 500, "net": 600, "revenue_in_inr": 0.0, "active_users": 2}
    assert '"revenue_in_inr":0.00' in response.text


def _scenario_2_data(db):
    """Week of Mon 2025-10-27: 5000/3000, 15 users, 150.00 (some of it on the 27th, outside the range);
    week of 2025-11-03: 6000/3500, 18 users, 180.00; 2025-11-10: nothing."""
    for user in range(2, 21):  # user 1 is the admin of `admin_headers`
        add_user(db, user)
    add_ledger(db, 1, "credit", 999, "2025-10-27 06:00:00")  # Monday 27th: outside [from, to]
    add_purchase(db, 1, "2025-10-27 06:00:00", tokens=999, amount_inr="999.00")
    for user in range(1, 16):
        add_ledger(db, user, "credit", 200, "2025-10-28 06:00:00")
        add_ledger(db, user, "debit", 200, "2025-11-02 18:29:59", reason="chapter_generation")  # Sun 23:59:59 IST
    add_ledger(db, 1, "credit", 2000, "2025-10-30 06:00:00")
    add_purchase(db, 1, "2025-10-30 06:00:00", tokens=2000, amount_inr="150.00")
    for user in range(3, 21):
        add_ledger(db, user, "credit", 300, "2025-11-02 18:30:00")  # Mon 3rd 00:00 IST
    add_ledger(db, 3, "credit", 600, "2025-11-05 06:00:00")
    add_ledger(db, 3, "debit", 3500, "2025-11-05 07:00:00", reason="chapter_generation")
    add_purchase(db, 3, "2025-11-09 18:29:59", tokens=600, amount_inr="180.00")
    add_purchase(db, 3, "2025-11-10 18:30:00", tokens=5, amount_inr="5.00")  # the 11th: outside


@pytest.mark.parametrize("materialized_days", [(), (28, 29, 30, 31), tuple(range(1, 10))], ids=["live", "mixed", "most"])
def test_scenario_2_weekly_trend_labelled_by_monday(db, client, admin_headers, materialized_days):
    _scenario_2_data(db)
    for day in materialized_days:
        materialize_day(db, date(2025, 10 if day > 20 else 11, day), KOLKATA)

    response = _get(client, admin_headers, "/tokens/trend", "granularity=weekly&from=2025-10-28&to=2025-11-10")

    assert response.status_code == 200
    assert response.json == {"series": [
        {"date": "2025-10-27", "credited": 5000, "debited": 3000, "net": 2000, "active_users": 15,
         "revenue_in_inr": 150.0},
        {"date": "2025-11-03", "credited": 6000, "debited": 3500, "net": 2500, "active_users": 18,
         "revenue_in_inr": 180.0},
        {"date": "2025-11-10", "credited": 0, "debited": 0, "net": 0, "active_users": 0, "revenue_in_inr": 0.0},
    ]}


def test_scenario_4_top_users_by_spend(db, client, admin_headers):
    add_user(db, 18, username="regular_user")
    add_user(db, 42, username="power_user")
    add_user(db, 7, username="saver")
    add_ledger(db, 42, "debit", 10000, "2025-11-02 06:00:00", reason="chapter_generation")
    add_ledger(db, 42, "debit", 5000, "2025-11-07 06:00:00", reason="translation")
    add_ledger(db, 18, "debit", 8500, "2025-11-05 06:00:00", reason="chapter_generation")
    add_ledger(db, 7, "credit", 9000, "2025-11-05 06:00:00")  # earns only: not a spender
    add_ledger(db, 18, "debit", 99999, "2025-11-08 18:30:00", reason="translation")  # the 9th: outside
    for day in (2, 3, 4):
        materialize_day(db, date(2025, 11, day), KOLKATA)

    response = _get(client, admin_headers, "/users/top", "metric=spend&from=2025-11-01&to=2025-11-08&limit=10")

    assert response.status_code == 200
    assert response.json == {"items": [
        {"user_id": 42, "username": "power_user", "email": "power_user@example.com", "spend": 15000},
        {"user_id": 18, "username": "regular_user", "email": "regular_user@example.com", "spend": 8500},
    ]}


def test_every_route_answers_with_the_spec_body(db, client, admin_headers):
    for user in (2, 3):  # user 1 is the admin of `admin_headers`
        add_user(db, user)
    add_campaign(db, "diwali")
    add_ledger(db, 1, "credit", 300, "2025-11-01 06:00:00")
    add_ledger(db, 2, "debit", 100, "2025-11-02 06:00:00", token_type="promo", reason="chapter_generation")
    add_purchase(db, 1, "2025-11-01 06:00:00", tokens=300, amount_inr="29.99")
    add_purchase(db, 2, "2025-11-02 06:00:00", tokens=100, amount_inr="10.00")
    add_purchase(db, 2, "2025-11-02 06:00:00", tokens=100, amount_inr="10.00", status="failed")
    add_referral(db, 1, 2, "2025-11-01 06:00:00", campaign_id="diwali", bonus=50)
    add_referral(db, 1, 3, "2025-11-01 07:00:00", campaign_id="diwali", status="pending")
    add_referral(db, 2, 3, "2025-11-02 07:00:00", bonus=70)
    materialize_day(db, date(2025, 11, 1), KOLKATA)
    range_ = "from=2025-11-01&to=2025-11-02"

    assert _get(client, admin_headers, "/tokens/by-feature", range_).json == {"items": [
        {"feature": "chapter_generation", "credited": 0, "debited": 100},
        {"feature": "purchase", "credited": 300, "debited": 0},
    ]}
    assert _get(client, admin_headers, "/tokens/composition", range_).json == {"regular": 75.0, "promo": 25.0}
    purchases = _get(client, admin_headers, "/purchases", range_)
    assert purchases.json == {"total_purchases": 2, "total_tokens": 400, "total_revenue": 39.99,
                              "avg_tokens_per_purchase": 200.0, "avg_revenue_per_purchase": 20.0,
                              "unique_buyers": 2}
    assert '"avg_revenue_per_purchase":20.00' in purchases.text
    assert _get(client, admin_headers, "/promotions", range_).json == {
        "total_referrers": 2, "total_referrals": 3, "successful_referrals": 2, "total_bonus_awarded": 120,
        "conversion_rate": 66.67}
    assert _get(client, admin_headers, "/promotions", range_ + "&campaign_id=diwali").json == {
        "total_referrers": 1, "total_referrals": 2, "successful_referrals": 1, "total_bonus_awarded": 50,
        "conversion_rate": 50.0}
    assert _get(client, admin_headers, "/tokens/overview", range_ + "&token_type=promo").json == {
        "credited": 0, "debited": 100, "net": -100, "revenue_in_inr": 0.0, "active_users": 1}
    assert _get(client, admin_headers, "/tokens/overview", range_ + "&feature=purchase").json == {
        "credited": 300, "debited": 0, "net": 300, "revenue_in_inr": 39.99, "active_users": 1}


def test_an_unknown_campaign_is_404(db, client, admin_headers):
    response = _get(client, admin_headers, "/promotions", "from=2025-11-01&to=2025-11-02&campaign_id=nope")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_analytics_need_an_admin_token(db, client):
    response = client.simulate_get(f"{API}/purchases", query_string="from=2025-11-01&to=2025-11-02")
    assert response.status_code == 401


def test_the_openapi_document_is_public_and_lists_every_route(db, client):
    response = client.simulate_get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"] == "3.1.0"
    assert set(response.json["paths"]) == {
        "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/admin/",
        *(f"{API}{path}" for path in ("/tokens/overview", "/tokens/trend", "/tokens/by-feature",
                                      "/tokens/composition", "/users/top", "/purchases", "/promotions",
                                      "/status", "/etl-runs", "/etl-runs/{run_id}", "/exports", "/exports/{export_id}",
                                      "/meta", "/campaigns", "/transactions")),
        "/exports/{file_name}",
    }


# (route, query, status, a fragment of the message)
VALIDATION_RULES = {
    "missing from": ("/tokens/overview", "to=2025-11-01", 400, "from and to date parameters are required"),
    "missing to": ("/purchases", "from=2025-11-01", 400, "from and to date parameters are required"),
    "empty from": ("/purchases", "from=&to=2025-11-01", 400, "from and to date parameters are required"),
    "missing granularity": ("/tokens/trend", "from=2025-11-01&to=2025-11-02", 400, "granularity is required"),
    "missing metric": ("/users/top", "from=2025-11-01&to=2025-11-02", 400, "metric is required"),
    "not a date": ("/tokens/composition", "from=01-11-2025&to=2025-11-02", 400, "YYYY-MM-DD"),
    "not a real day": ("/tokens/by-feature", "from=2025-02-30&to=2025-03-02", 400, "not a real calendar day"),
    "before 1970": ("/tokens/by-feature", "from=1969-12-31&to=1970-01-02", 400, "between 1970-01-01"),
    "unknown granularity": ("/tokens/trend", "granularity=hourly&from=2025-11-01&to=2025-11-02", 400,
                            "granularity must be one of daily, weekly, monthly"),
    "unknown metric": ("/users/top", "metric=spent&from=2025-11-01&to=2025-11-02", 400,
                       "metric must be one of spend, earn, net"),
    "unknown token_type": ("/tokens/overview", "token_type=bonus&from=2025-11-01&to=2025-11-02", 400,
                           "token_type must be one of regular, promo"),
    "limit not an integer": ("/users/top", "metric=spend&limit=ten&from=2025-11-01&to=2025-11-02", 400,
                             "limit must be a whole number from 1 to 100"),
    "limit zero": ("/users/top", "metric=spend&limit=0&from=2025-11-01&to=2025-11-02", 400, "from 1 to 100"),
    "limit over 100": ("/users/top", "metric=spend&limit=101&from=2025-11-01&to=2025-11-02", 400, "from 1 to 100"),
    "limit negative": ("/users/top", "metric=spend&limit=-5&from=2025-11-01&to=2025-11-02", 400, "from 1 to 100"),
    "empty feature": ("/tokens/overview", "feature=&from=2025-11-01&to=2025-11-02", 400, "feature must be 1 to 64"),
    "typo in a name": ("/tokens/overview", "form=2025-11-01&to=2025-11-02", 400, "Unknown query parameter(s): form"),
    "option of another route": ("/purchases", "from=2025-11-01&to=2025-11-02&metric=spend", 400,
                                "Unknown query parameter(s): metric"),
    "repeated parameter": ("/tokens/composition", "from=2025-11-01&from=2025-11-02&to=2025-11-03", 400,
                           "given more than once: from"),
    "from after to": ("/tokens/overview", "from=2025-11-02&to=2025-11-01", 422, "must not be after to"),
    "over 365 days": ("/users/top", "metric=net&from=2024-01-01&to=2025-01-01", 422,
                      "Date range cannot exceed 365 days"),
}


@pytest.mark.parametrize("rule", VALIDATION_RULES)
def test_validation_rule(db, client, admin_headers, rule):
    path, query, status, message = VALIDATION_RULES[rule]
    response = _get(client, admin_headers, path, query)
    assert response.status_code == status, response.text
    expected_code = "validation_error" if status == 400 else "business_rule_violation"
    assert response.json["error"]["code"] == expected_code
    assert message in response.json["error"]["message"]


@pytest.mark.parametrize("range_", ["from=2025-01-01&to=2025-12-31", "from=2024-01-01&to=2024-12-31"],
                         ids=["common year", "leap year"])
def test_a_full_calendar_year_fits(db, client, admin_headers, range_):
    assert _get(client, admin_headers, "/tokens/overview", range_).status_code == 200


@pytest.mark.parametrize("query", [
    "/tokens/trend?granularity=monthly", "/tokens/trend?granularity=weekly", "/users/top?metric=net",
    "/tokens/overview?token_type=promo", "/promotions?", "/purchases?",
])
def test_the_earliest_and_latest_days_allowed_are_answered(db, client, admin_headers, query):
    path, options = query.split("?")
    for range_ in ("from=1970-01-01&to=1970-12-31", "from=9998-01-01&to=9998-12-31"):
        response = _get(client, admin_headers, path, "&".join(filter(None, [options, range_])))
        assert response.status_code == 200, response.text
    assert _get(client, admin_headers, path, "&".join(filter(None, [options, "from=9998-12-31&to=9999-01-01"]))
                ).status_code == 400
