import time

import jwt
import pytest
import sqlalchemy as sa

from core.auth import CurrentAdmins
from core.tables import users
from tests.conftest import JWT_SECRET, make_token
from tests.factories import add_user

OVERVIEW = "/api/v1/admin/analytics/tokens/overview?from=2025-11-01&to=2025-11-01"


def _none_alg_token():
    return jwt.encode({"sub": "1", "scope": "admin", "exp": int(time.time()) + 600}, None, algorithm="none")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        f"Token {make_token()}",
        f"Bearer {make_token(exp=int(time.time()) - 5)}",
        f"Bearer {make_token(secret='another-secret-' + 'y' * 40)}",
        f"Bearer {make_token(exp=None)}",
        f"Bearer {make_token(sub=None)}",
        f"Bearer {make_token(sub='admin')}",
        f"Bearer {make_token(sub=1)}",
        f"Bearer {make_token(sub='²')}",
        "Bearer " + _none_alg_token(),
        "Bearer " + jwt.encode({"sub": "1", "scope": "admin", "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS512"),
        f"Bearer {make_token(exp=str(int(time.time()) + 600))}",
        f"Bearer {make_token(iat=str(int(time.time())))}",
        f"Bearer {make_token(nbf=str(int(time.time()) - 5))}",
        f"Bearer {make_token(sub='01')}",
        f"Bearer {make_token(sub='0')}",
    ],
    ids=[
        "missing", "empty", "bearer-only", "bearer-blank", "basic", "garbage", "wrong-scheme", "expired",
        "wrong-signature", "no-exp", "no-sub", "non-numeric-sub", "integer-sub", "superscript-sub", "alg-none", "hs512",
        "string-exp", "string-iat", "string-nbf", "leading-zero-sub", "zero-sub",
    ],
)
def test_bad_credentials_are_401(client, admin_headers, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.simulate_get(OVERVIEW, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scope", ["", "user", "administrator", "read:analytics", None])
def test_a_valid_token_without_admin_scope_is_403(client, admin_headers, scope):
    response = client.simulate_get(OVERVIEW, headers={"Authorization": f"Bearer {make_token(scope=scope)}"})
    assert response.status_code == 403
    assert response.json == {"error": {"code": "forbidden", "message": "This endpoint requires the admin scope"}}


def test_admin_scope_among_others_is_let_through(client, admin_headers):
    response = client.simulate_get(OVERVIEW, headers={"Authorization": f"Bearer {make_token(scope='read admin')}"})
    assert response.status_code not in (401, 403)


def test_probes_need_no_token(client):
    assert client.simulate_get("/healthz").status_code == 200
    assert client.simulate_get("/readyz").status_code == 200


def test_numeric_time_claims_are_let_through(client, admin_headers):
    now = time.time()
    token = make_token(iat=int(now), nbf=now - 5, exp=now + 600)
    assert client.simulate_get(OVERVIEW, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_token_of_an_admin_demoted_since_is_403(client, admin_headers, db):
    with db.begin() as conn:
        conn.execute(sa.update(users).where(users.c.id == 1).values(role="user"))
    response = client.simulate_get(OVERVIEW, headers=admin_headers)
    assert response.status_code == 403
    assert response.json["error"] == {"code": "forbidden", "message": "The token's user is no longer an admin"}


@pytest.mark.parametrize("path", [OVERVIEW, "/api/v1/admin/analytics/exports"])
def test_a_token_of_a_deleted_admin_is_401(client, admin_headers, db, path):
    with db.begin() as conn:
        conn.execute(sa.delete(users).where(users.c.id == 1))
    response = client.simulate_get(path, headers=admin_headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_token_naming_no_user_is_401(client, admin_headers):
    response = client.simulate_get(OVERVIEW, headers={"Authorization": f"Bearer {make_token(sub='4242')}"})
    assert response.status_code == 401


def test_creating_an_export_with_a_deleted_admins_token_is_401_not_500(client, admin_headers, db):
    with db.begin() as conn:
        conn.execute(sa.delete(users).where(users.c.id == 1))
    body = {"type": "csv", "dataset": "users", "filters": {}}
    response = client.simulate_post("/api/v1/admin/analytics/exports", json=body, headers=admin_headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_users_role_is_read_again_after_the_recheck_period(db):
    add_user(db, 7, role="admin")
    clock = Clock()
    admins = CurrentAdmins(db, ttl_seconds=30, clock=clock)
    admins.require(7)
    with db.begin() as conn:
        conn.execute(sa.update(users).where(users.c.id == 7).values(role="user"))
    clock.now += 29
    admins.require(7)  # still the answer read 29 s ago
    clock.now += 1
    with pytest.raises(Exception) as raised:
        admins.require(7)
    assert raised.value.code == "forbidden"
