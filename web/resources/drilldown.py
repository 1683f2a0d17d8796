"""The dashboard's drill-down (admin only): a dataset's rows a page at a time, filtered exactly as
its export would be."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from core.dialect import snapshot
from core.exports.browse import parse_page_request, read_page
from core.exports.datasets import Dataset


class DatasetRows:
    """`GET …/<dataset>?<its export filters>&limit=&cursor=`: `{"<dataset>": [...], "next_cursor"}`."""

    def __init__(self, engine: Engine, tz: ZoneInfo, dataset: Dataset):
        self._engine, self._tz, self._dataset = engine, tz, dataset

    def on_get(self, req, resp):
        request = parse_page_request(self._dataset, req.params)
        # One snapshot: the stored breakdown that narrows a reason's days and the ledger agree.
        with snapshot(self._engine) as conn:
            rows, next_cursor = read_page(conn, self._dataset, request, self._tz)
        resp.media = {self._dataset.name: rows, "next_cursor": next_cursor}
