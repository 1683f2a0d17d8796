"""Analytics routes (admin only): parse and validate the query, ask core, render the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from core.analytics import answer
from core.analytics.params import Parser, parse_question
from core.dates import iso_local, utc_now

FRESH_AS_OF = "X-Data-Fresh-As-Of"


class Question:
    """One GET route answering one analytics function."""

    def __init__(self, engine: Engine, tz: ZoneInfo, question: Callable[..., dict], options: Mapping[str, Parser]):
        self._engine = engine
        self._tz = tz
        self._question = question
        self._options = options

    def on_get(self, req, resp):
        arguments = parse_question(req.params, self._options)
        read_at = utc_now()
        resp.media = answer(self._engine, self._question, tz=self._tz, **arguments)
        # Stored days that a change has made dirty are answered from the base tables, so the
        # answer holds every change committed before the request read them.
        resp.set_header(FRESH_AS_OF, iso_local(read_at, self._tz))
