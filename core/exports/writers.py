"""CSV and JSON writers that write each row as it comes, so memory stays flat.

CSV: a header row, standard quoting, timestamps as `YYYY-MM-DD HH:MM:SS` in REPORT_TIMEZONE,
JSON columns as compact JSON text in one cell, and text cells neutralised against spreadsheet
formula injection (OWASP "CSV Injection": a leading `'`). JSON: one array of objects with
native types and ISO 8601 timestamps with offset.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

import orjson

from core.dates import iso_local

FORMULA_TRIGGERS = "=+-@\t\r"  # a text cell starting with one of these is neutralised
QUARTER_HOUR = timedelta(minutes=15)
# Each progress report is a committed UPDATE; every 5,000 rows is 20 for a full export.
PROGRESS_EVERY = 5000

Progress = Callable[[int], None]


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text and text[0] in FORMULA_TRIGGERS else text


class _LocalTime:
    """Naive UTC -> `YYYY-MM-DD HH:MM:SS` in the report zone. Rows come in time order and every
    zone changes its offset on a quarter hour, so one offset serves a whole quarter hour."""

    def __init__(self, tz: ZoneInfo):
        self._tz = tz
        self._start = self._end = datetime.min
        self._offset = timedelta(0)

    def __call__(self, value: datetime) -> str:
        if not self._start <= value < self._end:
            self._start = value.replace(minute=value.minute - value.minute % 15, second=0, microsecond=0)
            self._end = self._start + QUARTER_HOUR
            self._offset = self._start.replace(tzinfo=UTC).astimezone(self._tz).utcoffset()
        return (value + self._offset).replace(microsecond=0).isoformat(" ")


def _compact_json(text: str) -> str:
    return neutralise(orjson.dumps(orjson.loads(text)).decode())


def write_csv(out: TextIO, columns: Sequence[str], json_columns: frozenset[str], rows: Iterable[Sequence],
              tz: ZoneInfo, progress: Progress) -> int:
    """Only the cells that need it are converted, column by column: text (neutralised), times and
    JSON; numbers and NULLs (an empty cell) go to the csv module as they are. A column's kind is
    learnt from its first value that is not NULL (a column holds one type). At 100,000 rows a
    call per cell was most of the writing time."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    local_time = _LocalTime(tz)
    text: list[int] = []
    times: list[int] = []
    jsons = [index for index, name in enumerate(columns) if name in json_columns]
    unknown = [index for index in range(len(columns)) if index not in jsons]
    count = 0
    for row in rows:
        cells = list(row)
        if unknown:
            for index in [i for i in unknown if cells[i] is not None]:
                unknown.remove(index)
                if isinstance(cells[index], str):
                    text.append(index)
                elif isinstance(cells[index], datetime):
                    times.append(index)
        for index in text:
            value = cells[index]
            if value and value[0] in FORMULA_TRIGGERS:
                cells[index] = "'" + value
        for index in times:
            if cells[index] is not None:
                cells[index] = local_time(cells[index])
        for index in jsons:
            if cells[index] is not None:
                cells[index] = _compact_json(cells[index])
        writer.writerow(cells)
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
