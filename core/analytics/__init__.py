"""The analytics questions of the spec, one function each, answering with the spec's bodies.

Every function takes a connection, an inclusive range of local days of `tz` and its options.
Ask them through `answer` (as the web layer does): it runs one in a single snapshot, so its reads
agree while the ETL writes days, and keeps answers that nothing has changed since.
"""

from core.analytics.answers import answer
from core.analytics.promotions import promotion_analytics
from core.analytics.purchases import purchase_analytics
from core.analytics.tokens import (
    token_composition,
    token_overview,
    token_trend,
    tokens_by_feature,
)
from core.analytics.users import top_users

__all__ = [
    "answer",
    "promotion_analytics",
    "purchase_analytics",
    "token_composition",
    "token_overview",
    "token_trend",
    "tokens_by_feature",
    "top_users",
]
