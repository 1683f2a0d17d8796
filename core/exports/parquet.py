"""The Parquet writer: typed columns, a row group every ROW_GROUP_ROWS rows as they stream.

Integers are int64, money decimal(18, 2), timestamps UTC instants in milliseconds (Parquet's
coarsest unit) tagged with REPORT_TIMEZONE (`timestamp[ms, tz=...]`: isAdjustedToUTC), everything else (text, enums, JSON documents
as compact text, as in CSV) strings. Text is written as stored: Parquet is read by programs, not
spreadsheets, so nothing is neutralised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from core.aggregates import money
from core.exports.writers import PROGRESS_EVERY, Layout, Progress, compact_json

# A row group is the unit a reader skips or reads in parallel; 64k rows keep one in memory small.
ROW_GROUP_ROWS = 65_536
# Rows become Arrow columns this many at a time: a row group waits as compact Arrow batches, not
# as 64k rows of Python objects (tens of MB).
BATCH_ROWS = 8_192
MONEY = pa.decimal128(18, 2)
_NAIVE_SECONDS = pa.timestamp("s")
# pyarrow's default allocator (mimalloc) keeps the pages of every freed batch: a worker writing
# 300,000 rows peaked 27 MB higher than with the system allocator, which gives them back.
pa.set_memory_pool(pa.system_memory_pool())


def schema(layout: Layout, tz: ZoneInfo) -> pa.Schema:
    def arrow_type(name: str) -> pa.DataType:
        if name in layout.times:
            return pa.timestamp("ms", tz=tz.key)
        if name in layout.money:
            return MONEY
        if name in layout.text or name in layout.json:
            return pa.string()
        return pa.int64()

    return pa.schema([pa.field(name, arrow_type(name)) for name in layout.names])


def _column(values: Sequence, field: pa.Field, layout: Layout) -> pa.Array:
    if field.name in layout.times:  # naive-UTC text
        return pa.array(values, pa.string()).cast(_NAIVE_SECONDS).cast(field.type)
    if field.name in layout.money:
        return pa.array([None if value is None else money(value) for value in values], field.type)
    if field.name in layout.json:
        return pa.array([None if value is None else compact_json(value) for value in values], field.type)
    return pa.array(values, field.type)


def write_parquet(out: BinaryIO, layout: Layout, rows: Iterable[Sequence], tz: ZoneInfo, progress: Progress) -> int:
    table_schema = schema(layout, tz)
    rows = iter(rows)
    count = 0
    group: list[pa.RecordBatch] = []
    with pq.ParquetWriter(out, table_schema) as writer:
        while batch := list(islice(rows, min(BATCH_ROWS, ROW_GROUP_ROWS))):
            group.append(pa.record_batch(
                [_column(values, field, layout) for values, field in zip(zip(*batch), table_schema)],
                schema=table_schema))
            before, count = count, count + len(batch)
            if sum(part.num_rows for part in group) >= ROW_GROUP_ROWS:
                _write_group(writer, group)
            if count // PROGRESS_EVERY > before // PROGRESS_EVERY:
                progress(count)
        if group:
            _write_group(writer, group)
        elif count == 0:  # a file with no row group still says what its columns are
            writer.write_table(table_schema.empty_table())
    return count


def _write_group(writer: pq.ParquetWriter, group: list[pa.RecordBatch]) -> None:
    """The batches as one row group, and forgotten."""
    writer.write_table(pa.Table.from_batches(group), row_group_size=ROW_GROUP_ROWS)
    group.clear()
