"""CSV and JSON writers that write each row as it comes, so memory stays flat.

CSV: a header row, standard quoting, timestamps as `YYYY-MM-DD HH:MM:SS` in REPORT_TIMEZONE,
JSON columns as compact JSON text in one cell, and text cells neutralised against spreadsheet
formula injection (OWASP "CSV Injection": a leading `'`). JSON: one array of objects with
native types and ISO 8601 timestamps with offset.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

import orjson

from core.dates import iso_local

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Each progress report is a committed UPDATE; every 5,000 rows is 20 for a full export.
PROGRESS_EVERY = 5000

Progress = Callable[[int], None]


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _csv_cell(value: object, is_json: bool, tz: ZoneInfo) -> object:
    if value is None:
        return ""
    if is_json:  # the column's JSON text, written back compact
        return neutralise(orjson.dumps(orjson.loads(value)).decode())
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        return neutralise(value)
    return value  # numbers stay numbers, a negative one included


def write_csv(out: TextIO, columns: Sequence[str], json_columns: frozenset[str], rows: Iterable[Sequence],
              tz: ZoneInfo, progress: Progress) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    is_json = [name in json_columns for name in columns]
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(value, flag, tz) for value, flag in zip(row, is_json)])
        count += 1
        if count % PROGRESS_EVERY == 0:
            progress(count)
    return count


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _json_value(value: object, is_json: bool, tz: ZoneInfo) -> object:
    if value is None:
        return None
    if is_json:  # the column's JSON text
        return orjson.loads(value)
    if isinstance(value, datetime):
        return iso_local(value, tz)
    return value


def write_json(out: TextIO, columns: Sequence[str], json_columns: frozenset[str], rows: Iterable[Sequence],
               tz: ZoneInfo, progress: Progress) -> int:
    out.write("[")
    is_json = [name in json_columns for name in columns]
    count = 0
    for row in rows:
        item = {name: _json_value(value, flag, tz) for name, value, flag in zip(columns, row, is_json)}
        out.write(("\n" if count == 0 else ",\n") + orjson.dumps(item, default=_json_default).decode())
        count += 1
        if count % PROGRESS_EVERY == 0:
            progress(count)
    out.write("\n]\n" if count else "]\n")
    return count
