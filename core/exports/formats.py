"""The export formats: how each is written, named and served, and gzip around the text ones.

A format writes binary output; gzip (`compression: gzip`, text formats only: Parquet and XLSX
compress inside) wraps it as the rows stream, so nothing is compressed afterwards.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO
from zoneinfo import ZoneInfo

from core.exports.writers import Layout, Progress, write_csv, write_json, write_jsonl
from core.exports.xlsx import XLSX_MAX_ROWS, write_xlsx

GZIP = "gzip"
NO_COMPRESSION = "none"
GZIP_CONTENT_TYPE = "application/gzip"
# zlib's level 6 (gzip's command-line default) compresses CSV within a few percent of level 9 at
# about twice the speed.
GZIP_LEVEL = 6
UTF8_BOM = "\ufeff".encode()

Writer = Callable[[BinaryIO, Layout, Iterable[Sequence], ZoneInfo, Progress], int]


def write_parquet(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    # pyarrow is imported by the first Parquet export only: it adds some 65 MB to every process
    # that imports it, which the workers writing CSV (and the web processes) need not carry.
    from core.exports.parquet import write_parquet as write

    return write(out, layout, rows, tz, progress)


@dataclass(frozen=True)
class Format:
    name: str
    write: Writer
    content_type: str
    compressible: bool  # a text format gzip can wrap
    max_rows: int | None = None  # what the format itself can hold


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("csv", write_csv, "text/csv; charset=utf-8", compressible=True),
    Format("json", write_json, "application/json", compressible=True),
    Format("jsonl", write_jsonl, "application/jsonl", compressible=True),
    Format("parquet", write_parquet, "application/vnd.apache.parquet", compressible=False),
    Format("xlsx", write_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           compressible=False, max_rows=XLSX_MAX_ROWS),
)}


def file_name(export_id: str, export_type: str, compression: str) -> str:
    """`<export id>.<type>`, `.gz` added when gzipped; never taken from a URL or the database."""
    return f"{export_id}.{export_type}" + (".gz" if compression == GZIP else "")


def content_type(export_type: str, compression: str) -> str:
    """A gzipped file is served as what it is, `application/gzip` (no Content-Encoding, so a
    client keeps the `.gz` it was promised rather than unpacking it on the fly)."""
    return GZIP_CONTENT_TYPE if compression == GZIP else FORMATS[export_type].content_type


def write_export(out: BinaryIO, export_type: str, compression: str, excel: bool, layout: Layout,
                 rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    """Write the rows to `out` in the format, compressed as asked; the count of rows."""
    write = FORMATS[export_type].write
    if compression != GZIP:
        return _write(out, write, excel, layout, rows, tz, progress)
    # mtime 0 and no file name: the .gz says nothing about where or when it was made.
    with gzip.GzipFile(filename="", fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as zipped:
        return _write(zipped, write, excel, layout, rows, tz, progress)


def _write(out: BinaryIO, write: Writer, excel: bool, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo,
           progress: Progress) -> int:
    if excel:  # a CSV that Excel opens as UTF-8 (validation allows it for CSV only)
        out.write(UTF8_BOM)
    return write(out, layout, rows, tz, progress)
