"""The domain's error hierarchy. `web.errors` is the one place that maps it to HTTP."""


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


class ConfigError(Exception):
    """A bad environment variable; the message names it. Stops the process at start-up."""
