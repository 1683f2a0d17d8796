"""The XLSX writer: one sheet, a header row, numbers as numbers, timestamps as Excel dates.

XlsxWriter's `constant_memory` mode writes each row to a temporary file as it comes (rows must
come in order, as they do) and zips the sheet at the end, so memory stays flat. Excel has no
time zones: timestamps are local times of REPORT_TIMEZONE, formatted `yyyy-mm-dd hh:mm:ss`.
Text (and JSON documents, as compact text) goes in as strings, never formulas or links, and is
neutralised as in CSV for whoever copies it on. A sheet holds at most XLSX_MAX_ROWS rows besides
its header: the request is refused beyond that (`core.exports.records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo

import xlsxwriter

from core.exports.writers import PROGRESS_EVERY, Layout, LocalTimes, Progress, compact_json, neutralise

XLSX_MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
            "strings_to_urls": False}


def write_xlsx(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    workbook = xlsxwriter.Workbook(out, _OPTIONS)
    sheet = workbook.add_worksheet("export")
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    cents = workbook.add_format({"num_format": "0.00"})
    local_time = LocalTimes(tz, iso=False)
    writers = []
    for name in layout.names:
        if name in layout.times:
            writers.append(lambda r, c, v: sheet.write_datetime(r, c, datetime.fromisoformat(local_time(v)), when))
        elif name in layout.money:
            writers.append(lambda r, c, v: sheet.write_number(r, c, float(v), cents))
        elif name in layout.json:
            writers.append(lambda r, c, v: sheet.write_string(r, c, neutralise(compact_json(v))))
        elif name in layout.text:
            writers.append(lambda r, c, v: sheet.write_string(r, c, neutralise(v)))
        else:
            writers.append(sheet.write_number)
    for column, name in enumerate(layout.names):
        sheet.write_string(0, column, name)
    count = 0
    for count, row in enumerate(rows, start=1):
        for column, (write, value) in enumerate(zip(writers, row)):
            if value is not None:  # NULL is an empty cell
                write(count, column, value)
        if count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.close()
    return count
