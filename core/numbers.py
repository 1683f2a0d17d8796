"""Whole numbers given as text (query parameters, JSON fields, claims, environment variables)."""


def is_ascii_digits(raw: object, max_digits: int) -> bool:
    """True for a str of 1 to `max_digits` ASCII digits. `str.isdigit` alone also accepts digits
    like "²", which `int()` then refuses; the bound keeps `int()` cheap and the value in range
    of the column it is meant for."""
    return isinstance(raw, str) and 0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit()
