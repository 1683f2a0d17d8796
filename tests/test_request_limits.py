"""Request bodies over MAX_REQUEST_BODY_BYTES are refused unread; error messages quote little of
the bad input."""

import falcon.testing
import pytest

from core.config import load_settings
from core.errors import EXCERPT_CHARS, ConfigError
from tests.exports_support import EXPORTS
from web import openapi
from web.app import create_app


def test_a_body_over_the_limit_is_413_in_the_json_shape_before_it_is_read(client, admin_headers):
    huge = b'{"dataset": "users", "x": "' + b"a" * (64 * 1024) + b'"}'
    response = client.simulate_post(EXPORTS, body=huge, headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert "65536 bytes" in response.json["error"]["message"]


def test_the_limit_is_a_setting(env, db, admin_headers):
    settings = load_settings({**env, "MAX_REQUEST_BODY_BYTES": "100"}, needs_jwt_secret=True)
    client = falcon.testing.TestClient(create_app(settings, enqueue_export=lambda export_id: None))
    body = {"dataset": "users", "filters": {"role": "admin" * 30}}
    assert client.simulate_post(EXPORTS, json=body, headers=admin_headers).status_code == 413
    with pytest.raises(ConfigError, match="^MAX_REQUEST_BODY_BYTES:"):
        load_settings({**env, "MAX_REQUEST_BODY_BYTES": "0"})


@pytest.mark.parametrize("body", [
    {"dataset": "users", "filters": {"role": "x" * 60_000}},
    {"dataset": "users", "x" * 60_000: 1},
    {"dataset": "users", "columns": ["x" * 60_000]},
    {"dataset": "y" * 60_000},
])
def test_an_error_quotes_at_most_a_hundred_characters_of_bad_input(client, admin_headers, body):
    response = client.simulate_post(EXPORTS, json=body, headers=admin_headers)
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert len(message) < EXCERPT_CHARS + 250, message
    assert "60002 characters" in message or "60000 characters" in message


def test_a_long_query_value_is_quoted_short(client, admin_headers):
    response = client.simulate_get(f"{openapi.API}/tokens/overview", headers=admin_headers,
                                   params={"from": "2025-" * 2000, "to": "2025-11-01"})
    assert response.status_code == 400
    assert len(response.json["error"]["message"]) < EXCERPT_CHARS + 100
