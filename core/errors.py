"""The domain's error hierarchy. `web.errors` is the one place that maps it to HTTP."""

from sqlalchemy import exc as sa_exc

# An error message quotes at most this much of what it complains about: a 60 KB bad value must
# not come back as a 60 KB message (nor fill a log line or a stored error_message).
EXCERPT_CHARS = 100
# MariaDB/MySQL client and server errors that mean "no connection to be had": can't connect
# (2002 socket, 2003 TCP, 2005 unknown host), too many connections (1040), shutting down (1053).
MYSQL_CANNOT_CONNECT = frozenset({1040, 1053, 2002, 2003, 2005})
SQLITE_CANNOT_OPEN = ("unable to open database file", "database is locked", "disk I/O error")


class DomainError(Exception):
    """An error that a caller can act on; its message is safe to show to an admin."""

    code = "internal_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    code = "validation_error"


class BusinessRuleViolation(DomainError):
    code = "business_rule_violation"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with work in progress (e.g. an ETL run already running)."""

    code = "conflict"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"


class RateLimited(DomainError):
    """Too much at once from one caller; worth asking again after `retry_after_seconds`."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ConfigError(Exception):
    """A bad environment variable; the message names it. Stops the process at start-up."""


def excerpt(text: str) -> str:
    """`text` cut to EXCERPT_CHARS characters for an error message, saying how long it was."""
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[:EXCERPT_CHARS]}... ({len(text)} characters)"


def is_database_unavailable(error: BaseException) -> bool:
    """The database could not be reached, or dropped the connection mid-statement, or the pool had
    no connection to give: worth retrying later, not a bug of the request."""
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    # SQLAlchemy marks a connection lost mid-statement (MariaDB's 2006, 2013, KILL's 1927, ...).
    if error.connection_invalidated:
        return True
    code = _driver_error_code(error)
    return code in MYSQL_CANNOT_CONNECT or any(text in str(error.orig) for text in SQLITE_CANNOT_OPEN)


def _driver_error_code(error: sa_exc.StatementError) -> int | None:
    args = getattr(error.orig, "args", None)
    return args[0] if args and isinstance(args[0], int) else None


def describe_error(error: BaseException) -> str:
    """One line about `error`, safe to store and show an admin (e.g. an ETL run's error_message).

    A database error's text carries its SQL statement and bound values; this gives its kind and
    the driver's error code instead. Any other error's text is cut to EXCERPT_CHARS.
    """
    if isinstance(error, DomainError):
        return excerpt(error.message)
    if isinstance(error, sa_exc.StatementError):
        code = _driver_error_code(error)
        kind = "database unavailable" if is_database_unavailable(error) else "database error"
        return f"{kind} ({type(error.orig).__name__}{'' if code is None else f' {code}'})"
    if isinstance(error, sa_exc.SQLAlchemyError):
        return f"database error ({type(error).__name__})"
    return f"{type(error).__name__}: {excerpt(str(error))}"
