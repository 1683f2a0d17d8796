"""Reading a dataset's rows a page at a time (the dashboard's drill-down), with exactly the filters,
validation and rows of its export.

Pages are keyset-paginated in the export's own order (the dataset's timestamp, then id): the cursor
carries the last row's timestamp and id, so a page costs an index range scan however deep it is,
and rows added meanwhile never shift a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.aggregates import Bounds, within
from core.analytics import stored
from core.analytics.days import read_range
from core.analytics.params import check_parameter_names
from core.dates import day_bounds
from core.errors import ValidationError, excerpt
from core.exports.datasets import TRANSACTIONS, Dataset
from core.exports.validation import parse_filters, parse_page_limit
from core.exports.writers import json_records

PAGE_LIMIT_DEFAULT = PAGE_LIMIT_MAX = 50
PAGE_PARAMETERS = ("limit", "cursor")
_CURSOR_SEPARATOR = "."
# Unix seconds, a dot, the row's id (ledger ids are ULIDs). Seconds past the last instant a
# timestamp can hold are that instant: a position after every row, not an error.
MAX_ID_LENGTH = 26
CURSOR_PATTERN = re.compile(rf"([0-9]{{1,12}})\.([\x21-\x7e]{{1,{MAX_ID_LENGTH}}})")
_LAST_SECOND = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
BAD_CURSOR = "cursor must be a next_cursor this route gave (leave it out for the first page)"


@dataclass(frozen=True)
class PageRequest:
    filters: dict  # validated as an export's `filters`
    limit: int
    after: tuple[datetime, str] | None  # (timestamp, id) of the previous page's last row


def parse_page_request(dataset: Dataset, params: Mapping[str, str | list[str]]) -> PageRequest:
    """Query parameters: the dataset's filters under their export names, `limit` and `cursor`.
    400 for an unknown, repeated or bad one; 422 for a range the export would refuse."""
    check_parameter_names(params, (*dataset.filter_names, *PAGE_PARAMETERS))
    raw_filters = {name: value for name, value in params.items() if name not in PAGE_PARAMETERS}
    return PageRequest(
        filters=parse_filters(dataset, raw_filters),
        limit=parse_page_limit(params.get("limit"), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX),
        after=_parse_cursor(params.get("cursor")),
    )


def read_page(conn: Connection, dataset: Dataset, request: PageRequest, tz: ZoneInfo) -> tuple[list[dict], str | None]:
    """A page of rows as the dataset's JSON export writes them, and the cursor of the next page
    (None on the last). For a dataset with text ids (transactions), as the cursor carries one."""
    columns = list(dataset.columns)
    query = dataset.select(request.filters, columns, tz)
    if request.after is not None:
        timestamp, row_id = request.after
        # The lower bound alone is what the index range scan starts from; the OR then skips the
        # rows of the same instant up to the cursor's.
        query = query.where(dataset.timestamp >= timestamp,
                            sa.or_(dataset.timestamp > timestamp, dataset.columns["id"] > row_id))
    if dataset is TRANSACTIONS and "reason" in request.filters and "user_id" not in request.filters:
        bounds = _days_that_may_hold_the_reason(conn, request.filters, tz)
        query = query.where(within(dataset.timestamp, bounds) if bounds else sa.false())
    rows = conn.execute(query.limit(request.limit + 1)).all()
    next_cursor = None
    if len(rows) > request.limit:
        rows = rows[:request.limit]
        last = rows[-1]._mapping
        next_cursor = _cursor(last[dataset.timestamp.name], last["id"])
    return list(json_records(dataset.layout(columns), rows, tz)), next_cursor


def _days_that_may_hold_the_reason(conn: Connection, filters: dict, tz: ZoneInfo) -> Bounds:
    """UTC intervals of the range outside which no ledger row has the filter's reason: the stored
    days whose breakdown lists it, and the days the breakdown does not answer (dirty, today, never
    processed). No index leads with `reason`: without this, a reason that is rare in a long range
    walks the whole range's `occurred_at` index (seconds at a few million rows); with it, only its
    days. The caller reads in one snapshot, so the breakdown and the ledger agree."""
    first, last = date.fromisoformat(filters["from"]), date.fromisoformat(filters["to"])
    stored_range = read_range(conn, first, last, tz)
    listed = [day_bounds(day, day, tz) for day in stored.days_with_reason(conn, stored_range, filters["reason"])]
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted([*stored_range.live_bounds(tz), *listed]):
        if merged and start <= merged[-1][1]:  # touching or overlapping: one range for the index
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _cursor(timestamp_text: str, row_id: str | int) -> str:
    # Unix seconds of the row's timestamp (stored as naive UTC), then its id. Every string of this
    # form is a position in the order, so a client can only get a 400 for a malformed one.
    seconds = int(datetime.fromisoformat(timestamp_text[:19]).replace(tzinfo=UTC).timestamp())
    return f"{seconds}{_CURSOR_SEPARATOR}{row_id}"


def _parse_cursor(raw: str | None) -> tuple[datetime, str] | None:
    if raw is None:
        return None
    match = CURSOR_PATTERN.fullmatch(raw)
    if match is None:
        raise ValidationError(f"{BAD_CURSOR}; got {excerpt(repr(raw))}")
    seconds, row_id = match.groups()
    return datetime.fromtimestamp(min(int(seconds), _LAST_SECOND), UTC).replace(tzinfo=None), row_id
