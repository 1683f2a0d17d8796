"""The five exportable datasets: their columns, their filters and the query that reads them.

Each dataset is a join of its table with what an admin needs to read it (usernames, campaign
names, balances). Its date filter bounds its natural timestamp with UTC instants of
REPORT_TIMEZONE days, so the range scan uses that column's index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.dates import day_bounds
from core.dialect import equals_exactly_anywhere
from core.errors import ValidationError, excerpt
from core.exports.writers import Layout
from core.numbers import is_ascii_digits
from core.tables import (
    AUTHORIZATION_STATUSES,
    DIRECTIONS,
    PURCHASE_PROVIDERS,
    PURCHASE_STATUSES,
    REFERRAL_STATUSES,
    TOKEN_TYPES,
    USER_ROLES,
    promo_campaigns,
    purchases,
    referrals,
    token_authorizations,
    users,
    wallet_ledger,
    wallets,
)

MAX_CODE_LENGTH = 64
MAX_USER_ID = 2**63 - 1  # signed BIGINT: what SQLite and MySQL both can compare with
# As text, a user id is canonical decimal (no leading zero) of at most 18 digits: below MAX_USER_ID
# whatever the digits, so the OpenAPI document can say it with a pattern.
MAX_USER_ID_TEXT_DIGITS = 18


# A filter's parser has the signature of the analytics parameters' (core.analytics.params.Parser):
# the raw value, then its name as the caller's message shows it (`filters.user_id` in an export's
# body, `user_id` as a query parameter).
FilterParser = Callable[[object, str], object]


def _enum(*values: str) -> FilterParser:
    def parse(raw: object, name: str) -> str:
        if raw not in values:
            raise ValidationError(f"{name} must be one of {', '.join(values)}; got {excerpt(repr(raw))}")
        return raw

    parse.choices = values  # what the OpenAPI document lists
    return parse


def parse_user_id(raw: object, name: str) -> int:
    # JSON clients send ids as numbers or as digit strings; both mean the same user.
    if is_ascii_digits(raw, MAX_USER_ID_TEXT_DIGITS) and not raw.startswith("0"):
        raw = int(raw)
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # 42.0 is the JSON integer 42 (JSON Schema agrees)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_USER_ID:
        raise ValidationError(f"{name} must be a positive integer user id; got {excerpt(repr(raw))}")
    return raw


def parse_code(raw: object, name: str) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_CODE_LENGTH:
        raise ValidationError(f"{name} must be a non-empty string of at most {MAX_CODE_LENGTH} characters")
    return raw


@dataclass(frozen=True)
class Filter:
    column: sa.ColumnElement
    parse: FilterParser
    indexed: bool = False  # an index leads with the column: the database should pick its plan

    def matches(self, value: object) -> sa.ColumnElement[bool]:
        # Free text (a reason, a feature, a campaign id) is compared byte for byte, as the analytics
        # compare it: MySQL's collation would also match other letter cases and trailing spaces.
        if self.parse is parse_code:
            return equals_exactly_anywhere(self.column, value)
        return self.column == value


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: Mapping[str, sa.ColumnElement]  # output name -> expression, in the default order
    source: sa.FromClause
    timestamp: sa.Column  # what `from` and `to` bound
    filters: Mapping[str, Filter]  # the equality filters; `from` and `to` come on top
    range_required: bool
    json_columns: frozenset[str] = frozenset()
    # Indexes that lead with `timestamp`. Without an indexed filter the query is held to them, and
    # to its own table first: misled by its row estimates over a range of days, MariaDB started
    # from `users` and sorted the rows (100,000 transactions at 1m: 1.5 s, held: 0.7 s).
    range_indexes: tuple[str, ...] = ()

    def __post_init__(self):
        # `count` relies on it.
        if any(f.column.table is not self.timestamp.table for f in self.filters.values()):
            raise ValueError(f"dataset {self.name}: every filter must be on {self.timestamp.table.name}")

    @property
    def filter_names(self) -> tuple[str, ...]:
        return ("from", "to", *self.filters)

    def select(self, filters: Mapping[str, object], columns: list[str], tz: ZoneInfo) -> sa.Select:
        """The rows of validated `filters`, oldest first, with the chosen columns."""
        query = sa.select(*[self._selected(name) for name in columns]).select_from(self.source)
        query = self._where(query, filters, tz).order_by(self.timestamp, self.columns["id"])
        if self.range_indexes and "from" in filters and not any(
                self.filters[name].indexed for name in filters if name in self.filters):
            query = query.prefix_with("STRAIGHT_JOIN", dialect="mysql").with_hint(
                self.timestamp.table, f"FORCE INDEX ({', '.join(self.range_indexes)})", dialect_name="mysql")
        return query

    def layout(self, columns: list[str]) -> Layout:
        """How the writers treat each column; timestamps arrive as text because `_selected` reads
        them so (both ask `_is_timestamp`)."""
        return Layout(
            names=tuple(columns),
            text=frozenset(name for name in columns
                           if self.columns[name].type.python_type is str and name not in self.json_columns),
            json=frozenset(self.json_columns & set(columns)),
            times=frozenset(name for name in columns if self._is_timestamp(name)),
            money=frozenset(name for name in columns if self.columns[name].type.python_type is Decimal),
        )

    def _is_timestamp(self, name: str) -> bool:
        return self.columns[name].type.python_type is datetime

    def _selected(self, name: str) -> sa.ColumnElement:
        # Values come as the driver reads them, without SQLAlchemy's per-row processing: JSON
        # documents and timestamps as the database's text (the writers turn it into their output
        # many times faster than json.loads and datetime parsing), enums as the strings they are.
        column = self.columns[name]
        if name in self.json_columns:
            column = sa.type_coerce(column, sa.Text)
        elif self._is_timestamp(name):
            column = sa.cast(column, sa.String)
        elif isinstance(column.type, sa.Enum):
            column = sa.type_coerce(column, sa.String)
        return column.label(name)

    def count(self, filters: Mapping[str, object], tz: ZoneInfo) -> sa.Select:
        # Every join adds exactly one row (a required foreign key) or at most one (an outer join
        # on a primary key), and every filter is on the dataset's own table: counting that table
        # alone gives the same number without the joins.
        return self._where(sa.select(sa.func.count()).select_from(self.timestamp.table), filters, tz)

    def _where(self, query: sa.Select, filters: Mapping[str, object], tz: ZoneInfo) -> sa.Select:
        if "from" in filters:
            start, end = day_bounds(date.fromisoformat(filters["from"]), date.fromisoformat(filters["to"]), tz)
            query = query.where(self.timestamp >= start, self.timestamp < end)
        for name, value in filters.items():
            if name in self.filters:
                query = query.where(self.filters[name].matches(value))
        return query


_ledger_user = users.alias("ledger_user")
TRANSACTIONS = Dataset(
    name="transactions",
    # The spec's header order (Test Scenario 3).
    columns={
        "id": wallet_ledger.c.id,
        "user_id": wallet_ledger.c.user_id,
        "username": _ledger_user.c.username,
        "email": _ledger_user.c.email,
        "token_type": wallet_ledger.c.token_type,
        "direction": wallet_ledger.c.direction,
        "reason": wallet_ledger.c.reason,
        "amount": wallet_ledger.c.amount,
        "balance_after_regular": wallet_ledger.c.balance_after_regular,
        "balance_after_promo": wallet_ledger.c.balance_after_promo,
        "reference_id": wallet_ledger.c.reference_id,
        "metadata": wallet_ledger.c.metadata,
        "occurred_at": wallet_ledger.c.occurred_at,
    },
    source=wallet_ledger.join(_ledger_user, _ledger_user.c.id == wallet_ledger.c.user_id),
    timestamp=wallet_ledger.c.occurred_at,
    filters={
        "user_id": Filter(wallet_ledger.c.user_id, parse_user_id, indexed=True),
        "token_type": Filter(wallet_ledger.c.token_type, _enum(*TOKEN_TYPES)),
        "direction": Filter(wallet_ledger.c.direction, _enum(*DIRECTIONS)),
        "reason": Filter(wallet_ledger.c.reason, parse_code),
    },
    range_required=True,
    json_columns=frozenset({"metadata"}),
    range_indexes=("idx_ledger_occurred_at", "idx_ledger_day_rollup"),
)

_buyer = users.alias("buyer")
PURCHASES = Dataset(
    name="purchases",
    columns={
        "id": purchases.c.id,
        "user_id": purchases.c.user_id,
        "username": _buyer.c.username,
        "email": _buyer.c.email,
        "provider": purchases.c.provider,
        "provider_ref": purchases.c.provider_ref,
        "tokens": purchases.c.tokens,
        "amount_inr": purchases.c.amount_inr,
        "status": purchases.c.status,
        "created_at": purchases.c.created_at,
        "paid_at": purchases.c.paid_at,
    },
    source=purchases.join(_buyer, _buyer.c.id == purchases.c.user_id),
    timestamp=purchases.c.created_at,
    filters={
        "user_id": Filter(purchases.c.user_id, parse_user_id),
        "status": Filter(purchases.c.status, _enum(*PURCHASE_STATUSES)),
        "provider": Filter(purchases.c.provider, _enum(*PURCHASE_PROVIDERS)),
    },
    range_required=True,
)

_referrer = users.alias("referrer")
_referred = users.alias("referred")
REFERRALS = Dataset(
    name="referrals",
    columns={
        "id": referrals.c.id,
        "campaign_id": referrals.c.campaign_id,
        "campaign_name": promo_campaigns.c.name,
        "referrer_user_id": referrals.c.referrer_user_id,
        "referrer_username": _referrer.c.username,
        "referred_user_id": referrals.c.referred_user_id,
        "referred_username": _referred.c.username,
        "status": referrals.c.status,
        "bonus_awarded": referrals.c.bonus_awarded,
        "created_at": referrals.c.created_at,
        "credited_at": referrals.c.credited_at,
    },
    source=referrals.outerjoin(promo_campaigns, promo_campaigns.c.id == referrals.c.campaign_id)
    .join(_referrer, _referrer.c.id == referrals.c.referrer_user_id)
    .join(_referred, _referred.c.id == referrals.c.referred_user_id),
    timestamp=referrals.c.created_at,
    filters={
        "campaign_id": Filter(referrals.c.campaign_id, parse_code),
        "status": Filter(referrals.c.status, _enum(*REFERRAL_STATUSES)),
        "referrer_user_id": Filter(referrals.c.referrer_user_id, parse_user_id),
    },
    range_required=True,
)

_holder = users.alias("holder")
AUTHORIZATIONS = Dataset(
    name="authorizations",
    columns={
        "id": token_authorizations.c.id,
        "user_id": token_authorizations.c.user_id,
        "username": _holder.c.username,
        "email": _holder.c.email,
        "feature": token_authorizations.c.feature,
        "amount": token_authorizations.c.amount,
        "captured_amount": token_authorizations.c.captured_amount,
        "status": token_authorizations.c.status,
        "created_at": token_authorizations.c.created_at,
        "expires_at": token_authorizations.c.expires_at,
        "captured_at": token_authorizations.c.captured_at,
    },
    source=token_authorizations.join(_holder, _holder.c.id == token_authorizations.c.user_id),
    timestamp=token_authorizations.c.created_at,
    filters={
        "user_id": Filter(token_authorizations.c.user_id, parse_user_id),
        "feature": Filter(token_authorizations.c.feature, parse_code),
        "status": Filter(token_authorizations.c.status, _enum(*AUTHORIZATION_STATUSES)),
    },
    range_required=True,
)

USERS = Dataset(
    name="users",
    columns={
        "id": users.c.id,
        "username": users.c.username,
        "email": users.c.email,
        "role": users.c.role,
        # A user without a wallet row holds no tokens. MariaDB's COALESCE of a BIGINT UNSIGNED and 0
        # is a DECIMAL: cast back to an integer, as every format writes it.
        "balance_regular": sa.cast(sa.func.coalesce(wallets.c.balance_regular, 0), sa.BigInteger),
        "balance_promo": sa.cast(sa.func.coalesce(wallets.c.balance_promo, 0), sa.BigInteger),
        "created_at": users.c.created_at,
    },
    source=users.outerjoin(wallets, wallets.c.user_id == users.c.id),
    timestamp=users.c.created_at,
    filters={"role": Filter(users.c.role, _enum(*USER_ROLES))},
    range_required=False,
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (TRANSACTIONS, PURCHASES, REFERRALS, AUTHORIZATIONS, USERS)}
