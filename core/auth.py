"""Admin bearer tokens: HS256 JWTs signed with JWT_SECRET, whose user must still be an admin
(docs/design.md, "Contracts")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
ADMIN_ROLE = "admin"
# How long a process may act on what it last read of a token's user: a demoted or deleted admin
# loses access within this time, and a busy API reads `users` at most once per admin per period.
RECHECK_SECONDS = 30.0
# RFC 7519 says NumericDate; PyJWT would also take "1700000000" (a string) for these.
_TIME_CLAIMS = ("exp", "iat", "nbf")
_USER_ID_DIGITS = 10  # users.id is INT UNSIGNED


@dataclass(frozen=True)
class Principal:
    user_id: int
    scopes: frozenset[str]


def verify_admin_token(token: str, secret: str) -> Principal:
    """The principal of an admin bearer token; Unauthorized or Forbidden otherwise.

    Checks the token alone (signature, claims, scope); `CurrentAdmins` checks its user.
    """
    try:
        # An explicit allow-list: 'none' and every asymmetric or other algorithm are refused.
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired; ask for a new one") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("Token is invalid") from None
    if any(not _is_number(claims[name]) for name in _TIME_CLAIMS if name in claims):
        raise Unauthorized("Token is invalid: exp, iat and nbf must be numbers")
    subject = claims["sub"]
    # Canonical decimal only: "01" and "1" must not both name user 1.
    if not is_ascii_digits(subject, _USER_ID_DIGITS) or subject != str(int(subject)) or subject == "0":
        raise Unauthorized("Token subject must be a user id")
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    if ADMIN_SCOPE not in scopes:
        raise Forbidden("This endpoint requires the admin scope")
    return Principal(user_id=int(subject), scopes=scopes)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class CurrentAdmins:
    """Whether a token's user is, now, an existing user with the admin role.

    `users` has no "disabled" column (DESIGN.md's base schema): an admin is switched off by
    changing the role or deleting the row. Each answer is kept for at most `ttl_seconds` in
    this process.
    """

    def __init__(self, engine: Engine, ttl_seconds: float = RECHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._ttl = ttl_seconds
        self._clock = clock
        self._roles: dict[int, tuple[float, str | None]] = {}  # user id -> (read at, role or None)
        self._lock = threading.Lock()

    def require(self, user_id: int) -> None:
        role = self._role(user_id)
        if role is None:
            raise Unauthorized("The token's user no longer exists; ask for a new token")
        if role != ADMIN_ROLE:
            raise Forbidden("The token's user is no longer an admin")

    def _role(self, user_id: int) -> str | None:
        now = self._clock()
        with self._lock:
            kept = self._roles.get(user_id)
        if kept is not None and now - kept[0] < self._ttl:
            return kept[1]
        with self._engine.connect() as conn:
            role = conn.execute(sa.select(users.c.role).where(users.c.id == user_id)).scalar_one_or_none()
        with self._lock:
            self._roles[user_id] = (now, role)
        return role


def mint_admin_token(engine: Engine, secret: str, *, user_id: int | None = None,
                     username: str | None = None, ttl: timedelta = timedelta(hours=12)) -> str:
    """A token for an existing admin user, found by id or username."""
    condition = users.c.id == user_id if user_id is not None else users.c.username == username
    with engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.role).where(condition)).first()
    if row is None:
        raise NotFound(f"No user {user_id if user_id is not None else username!r}")
    if row.role != ADMIN_ROLE:
        raise Forbidden(f"User {row.id} has role {row.role!r}, not 'admin'")
    now = datetime.now(UTC)
    claims = {"sub": str(row.id), "scope": ADMIN_SCOPE, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
