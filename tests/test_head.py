"""HEAD answers on every GET route of the OpenAPI document (and the dashboard's assets) as GET
does, without a body."""

import re

import pytest

from web.openapi import DOCUMENT

SAMPLES = {"from": "2025-11-01", "to": "2025-11-02", "granularity": "daily", "metric": "spend"}
PATH_SAMPLES = {"export_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "run_id": "1", "file_name": "01JAAAAAAAAAAAAAAAAAAAAAAA.csv"}


def _get_routes() -> list[tuple[str, dict]]:
    routes = []
    for path, operations in DOCUMENT["paths"].items():
        if "get" not in operations:
            continue
        required = {p["name"]: SAMPLES.get(p["name"], "1") for p in operations["get"].get("parameters", [])
                    if p["in"] == "query" and p.get("required")}
        routes.append((re.sub(r"\{(\w+)\}", lambda m: PATH_SAMPLES[m.group(1)], path), required))
    return routes + [("/admin/app.css", {})]


@pytest.mark.parametrize("path, params", _get_routes(), ids=lambda value: value if isinstance(value, str) else "")
def test_head_answers_like_get_without_a_body(db, client, admin_headers, path, params):
    got = client.simulate_get(path, params=params, headers=admin_headers)
    head = client.simulate_head(path, params=params, headers=admin_headers)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    if got.status_code == 200:
        assert head.headers["content-type"] == got.headers["content-type"]
