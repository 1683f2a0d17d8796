"""schemathesis against the live WSGI app: no 500s, and every response as the OpenAPI document says."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.materialize import materialize_day
from tests.factories import (
    add_campaign,
    add_ledger,
    add_purchase,
    add_referral,
    add_user,
)
from web import openapi
from web.app import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Random dates are mostly years apart (422); this range gets answers with data in them.
RANGE_WITH_DATA = {"from": "2025-10-30", "to": "2025-11-04"}


def _seed(engine):
    for user in (1, 2):
        add_user(engine, user)
    add_campaign(engine, "diwali")
    add_ledger(engine, 1, "credit", 500, "2025-11-01 06:00:00")
    add_ledger(engine, 2, "debit", 200, "2025-11-02 06:00:00", token_type="promo", reason="chapter_generation")
    add_purchase(engine, 1, "2025-11-01 06:00:00", tokens=500, amount_inr="49.50")
    add_referral(engine, 1, 2, "2025-11-01 06:00:00", campaign_id="diwali")
    materialize_day(engine, date(2025, 11, 1), ZoneInfo("Asia/Kolkata"))


@pytest.mark.parametrize("path", sorted(openapi.PATHS))
def test_every_route_keeps_to_the_document(db, settings, admin_headers, path):
    _seed(db)
    schema = schemathesis.openapi.from_wsgi(openapi.PATH, create_app(settings))
    operation = schema[path]["GET"]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.POSITIVE, query=RANGE_WITH_DATA)
        if path.startswith(openapi.API) else st.nothing(),
        operation.as_strategy(GenerationMode.NEGATIVE) if path.startswith(openapi.API) else st.nothing(),
    )

    @hypothesis_settings(max_examples=30, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.filter_too_much])
    @given(case=cases)
    def exercise(case):
        case.call_and_validate(headers=admin_headers, checks=CHECKS)

    exercise()
