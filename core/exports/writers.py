"""The text writers (CSV, JSON, JSON Lines), and what every writer shares: the layout of the
columns, formula neutralising, local times. Each writes each row as it comes, so memory stays flat.

CSV: a header row, standard quoting, timestamps ISO 8601 with the offset of REPORT_TIMEZONE,
money with two decimals, JSON columns as compact JSON text in one cell, and text cells
neutralised against spreadsheet formula injection (OWASP ASVS 5.0 V1.2.10: a leading `'`).
JSON: one array of objects; JSON Lines: one object a line;
both with native types, money as a number with two decimals (`449.00`, as the analytics API
writes it) and ISO 8601 timestamps with offset.

Only the cells that need it are converted, column by column; numbers and NULLs go out as the
driver gives them. Timestamps and JSON documents arrive as the database's text: turning a
timestamp into a `datetime` and back was a quarter of an export's time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

import orjson

from core.aggregates import money

# A text cell starting with one of these is neutralised: ASVS 5.0 V1.2.10's list (= + - @ tab NUL)
# and OWASP's CSV Injection page's carriage return and line feed. The XLSX writer uses the same.
FORMULA_TRIGGERS = "=+-@\t\0\r\n"
# Each progress report is a committed UPDATE; every 5,000 rows is 20 for a full export.
PROGRESS_EVERY = 5000
# CSV rows are encoded and written this many at a time (some 230 kB of transactions).
CSV_FLUSH_ROWS = 1000

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Layout:
    """The exported columns in order, and which of them hold text (neutralised in CSV and
    XLSX), JSON documents and naive-UTC timestamps (both read as text), and money (decimals);
    the others are integers."""

    names: tuple[str, ...]
    text: frozenset[str] = frozenset()
    json: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset()
    money: frozenset[str] = frozenset()

    def positions(self, kind: frozenset[str]) -> list[int]:
        return [index for index, name in enumerate(self.names) if name in kind]


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text and text[0] in FORMULA_TRIGGERS else text


class LocalTimes:
    """Naive-UTC timestamp text (`YYYY-MM-DD HH:MM:SS`) -> the same instant in the report zone:
    `YYYY-MM-DD HH:MM:SS`, or ISO 8601 with its offset.

    Rows come in time order, so the local text of a UTC minute is worked out once and each value
    only adds its seconds. A minute in which the offset is not whole minutes or changes (only
    historic local mean times) is converted value by value.
    """

    def __init__(self, tz: ZoneInfo, *, iso: bool):
        self._tz, self._iso = tz, iso
        self._minute: str | None = None
        self._prefix = self._suffix = ""
        self._exact = True

    def __call__(self, text: str) -> str:
        minute = text[:16]
        if minute != self._minute:
            self._learn(minute)
        if self._exact:
            return self._prefix + text[16:19] + self._suffix
        return self._text(self._local(text[:19]))

    def _learn(self, minute: str) -> None:
        start = self._local(minute)
        offset = start.utcoffset()
        self._minute = minute
        self._exact = offset % timedelta(minutes=1) == timedelta(0) and (
            (start + timedelta(seconds=59)).astimezone(self._tz).utcoffset() == offset)
        text = self._text(start)
        self._prefix, self._suffix = text[:16], text[19:]

    def _local(self, utc_text: str) -> datetime:
        return datetime.fromisoformat(utc_text).replace(tzinfo=UTC).astimezone(self._tz)

    def _text(self, local: datetime) -> str:
        return local.isoformat() if self._iso else local.replace(tzinfo=None).isoformat(" ")


def compact_json(text: str) -> str:
    # Compact text (what the wallet platform writes) is kept as it is: re-encoding every
    # document took a tenth of an export's time.
    if " " in text or "\n" in text or "\r" in text or "\t" in text:
        text = orjson.dumps(orjson.loads(text)).decode()
    return text


def write_csv(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    # The csv module writes into a string buffer that goes out as UTF-8 every CSV_FLUSH_ROWS rows:
    # a write a row through a TextIOWrapper took a sixth of the CSV writing's time.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(layout.names)
    local_time = LocalTimes(tz, iso=True)
    text, times, jsons = layout.positions(layout.text), layout.positions(layout.times), layout.positions(layout.json)
    amounts = layout.positions(layout.money)
    count = 0
    for row in rows:
        cells = list(row)
        for index in text:
            value = cells[index]
            if value and value[0] in FORMULA_TRIGGERS:
                cells[index] = "'" + value
        for index in times:
            if cells[index] is not None:
                cells[index] = local_time(cells[index])
        for index in jsons:
            if cells[index] is not None:
                cells[index] = neutralise(compact_json(cells[index]))
        for index in amounts:
            cells[index] = money(cells[index])
        writer.writerow(cells)
        count += 1
        if count % CSV_FLUSH_ROWS == 0:
            _flush_text(buffer, out)
        if count % PROGRESS_EVERY == 0:
            progress(count)
    _flush_text(buffer, out)
    return count


def _flush_text(buffer: io.StringIO, out: BinaryIO) -> None:
    out.write(buffer.getvalue().encode())
    buffer.seek(0)
    buffer.truncate()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Money keeps its two decimals (449.00, not 449.0) and stays a JSON number, as in the API.
        return orjson.Fragment(str(money(value)))
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def json_records(layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo) -> Iterator[dict]:
    """Each row as the JSON file has it: native types, JSON documents parsed, timestamps ISO 8601
    with the offset of `tz` (the API's rows of a dataset are these too)."""
    local_time = LocalTimes(tz, iso=True)
    names, times, jsons = layout.names, layout.positions(layout.times), layout.positions(layout.json)
    for row in rows:
        cells = list(row)
        for index in times:
            if cells[index] is not None:
                cells[index] = local_time(cells[index])
        for index in jsons:
            if cells[index] is not None:
                cells[index] = orjson.loads(cells[index])
        yield dict(zip(names, cells))


def _json_items(layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo) -> Iterator[bytes]:
    """Each row as one compact JSON object."""
    for record in json_records(layout, rows, tz):
        yield orjson.dumps(record, default=_json_default)


def write_json(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    out.write(b"[")
    count = 0
    for item in _json_items(layout, rows, tz):
        out.write((b"\n" if count == 0 else b",\n") + item)
        count += 1
        if count % PROGRESS_EVERY == 0:
            progress(count)
    out.write(b"\n]\n" if count else b"]\n")
    return count


def write_jsonl(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    count = 0
    for item in _json_items(layout, rows, tz):
        out.write(item + b"\n")
        count += 1
        if count % PROGRESS_EVERY == 0:
            progress(count)
    return count
