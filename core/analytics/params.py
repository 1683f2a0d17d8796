"""Validation of an analytics question's parameters, before any query runs.

Takes the query parameters as a mapping of name to a string (or a list of strings when a name
was repeated) and returns the keyword arguments of the analytics function. Every 400 rule is
checked before the 422 range rules, so a request with both kinds of mistakes hears about the
400 first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.analytics.tokens import GRANULARITIES
from core.analytics.users import DEFAULT_LIMIT, MAX_LIMIT, METRICS
from core.dates import check_range, parse_api_day
from core.errors import ValidationError, excerpt
from core.numbers import is_ascii_digits
from core.tables import TOKEN_TYPES

MAX_TEXT_LENGTH = 64  # reason and campaign id columns
MIN_LIMIT = 1

Parser = Callable[[str | None, str], object]


def required_choice(choices: tuple[str, ...]) -> Parser:
    def parse(raw: str | None, name: str) -> str:
        if raw in (None, ""):
            raise ValidationError(f"{name} is required: one of {', '.join(choices)}")
        return _choice(raw, name, choices)
    return parse


def optional_choice(choices: tuple[str, ...]) -> Parser:
    def parse(raw: str | None, name: str) -> str | None:
        return None if raw is None else _choice(raw, name, choices)
    return parse


def _choice(raw: str, name: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ValidationError(f"{name} must be one of {', '.join(choices)}, got {excerpt(repr(raw))}")
    return raw


def optional_text(raw: str | None, name: str) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_TEXT_LENGTH:
        raise ValidationError(f"{name} must be 1 to {MAX_TEXT_LENGTH} characters; leave it out for no filter")
    return raw


def leaderboard_limit(raw: str | None, name: str) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (is_ascii_digits(raw, 3) and MIN_LIMIT <= int(raw) <= MAX_LIMIT):
        raise ValidationError(f"{name} must be a whole number from {MIN_LIMIT} to {MAX_LIMIT}, got {excerpt(repr(raw))}")
    return int(raw)


# The options of each question beyond from/to, by parameter name (= keyword argument).
OVERVIEW = {"feature": optional_text, "token_type": optional_choice(TOKEN_TYPES)}
TREND = {"granularity": required_choice(GRANULARITIES)}
RANGE_ONLY: dict[str, Parser] = {}
TOP_USERS = {"metric": required_choice(METRICS), "limit": leaderboard_limit}
PROMOTIONS = {"campaign_id": optional_text}


def check_parameter_names(params: Mapping[str, str | list[str]], allowed: tuple[str, ...]) -> None:
    """Every query parameter is one the route takes, given once."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValidationError(
            f"Unknown query parameter(s): {excerpt(', '.join(unknown))}; this route takes {', '.join(allowed)}"
        )
    repeated = sorted(name for name, value in params.items() if isinstance(value, list))
    if repeated:
        raise ValidationError(f"Query parameter(s) given more than once: {excerpt(', '.join(repeated))}; give each once")


def parse_question(params: Mapping[str, str | list[str]], options: Mapping[str, Parser]) -> dict:
    """{"first", "last", **options} from `from`, `to` and the question's own options."""
    check_parameter_names(params, ("from", "to", *options))
    if params.get("from") in (None, "") or params.get("to") in (None, ""):
        raise ValidationError("from and to date parameters are required")
    first, last = parse_api_day(params["from"], "from"), parse_api_day(params["to"], "to")
    values = {name: parse(params.get(name), name) for name, parse in options.items()}
    check_range(first, last)
    return {"first": first, "last": last, **values}
