"""Admin bearer tokens: HS256 JWTs signed with JWT_SECRET (DESIGN.md, "Contracts")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.errors import Forbidden, NotFound, Unauthorized
from core.numbers import is_ascii_digits
from core.tables import users

ALGORITHM = "HS256"
ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: int
    scopes: frozenset[str]


def verify_admin_token(header_value: str | None, secret: str) -> Principal:
    """The admin behind `Authorization: Bearer <jwt>`; Unauthorized or Forbidden otherwise."""
    if not header_value:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    try:
        # An explicit allow-list: 'none' and every asymmetric or other algorithm are refused.
        claims = jwt.decode(
            token.strip(), secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired; ask for a new one") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Token is invalid") from None
    subject = claims["sub"]
    if not is_ascii_digits(subject, 10) or int(subject) == 0:
        raise Unauthorized("Token subject must be a user id")
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    if ADMIN_SCOPE not in scopes:
        raise Forbidden("This endpoint requires the admin scope")
    return Principal(user_id=int(subject), scopes=scopes)


def mint_admin_token(engine: Engine, secret: str, *, user_id: int | None = None,
                     username: str | None = None, ttl: timedelta = timedelta(hours=12)) -> str:
    """A token for an existing admin user, found by id or username."""
    condition = users.c.id == user_id if user_id is not None else users.c.username == username
    with engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.role).where(condition)).first()
    if row is None:
        raise NotFound(f"No user {user_id if user_id is not None else username!r}")
    if row.role != "admin":
        raise Forbidden(f"User {row.id} has role {row.role!r}, not 'admin'")
    now = datetime.now(UTC)
    claims = {"sub": str(row.id), "scope": ADMIN_SCOPE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
