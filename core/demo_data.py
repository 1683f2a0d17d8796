"""A realistic, internally consistent wallet history for demos, tests and benchmarks.

The simulation walks day by day, oldest first, so ledger ids (ULIDs from the timestamp) arrive
in ascending order and InnoDB appends instead of splitting pages. Every ledger row carries the
balances after it; no balance goes negative; purchases credit tokens, referrals pay bonuses and
captured authorizations debit them. The same seed gives the same history for the same `now`.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core import changes, tables
from core.dates import local_midnight_utc, local_today, utc_now
from core.db import bulk_load_engine
from core.dialect import bulk_insert, bulk_load_session
from core.errors import BusinessRuleViolation
from core.materialize import forget_stored_days

FEATURES = ("chapter_generation", "image_generation", "voice_narration", "translation")
FEATURE_WEIGHTS = (55, 20, 15, 10)
# Prices as text: exact in DECIMAL columns, and SQLite's driver takes no Decimal.
TOKEN_PACKS = ((100, "99.00"), (500, "449.00"), (1000, "849.00"), (5000, "3999.00"))
REGISTRATION_BONUS = 100
REFERRAL_BONUS = 50
CAMPAIGNS = (("welcome", "Welcome referrals"), ("diwali", "Diwali double bonus"), ("creators", "Creator push"))
BASE_TABLES_CHILD_FIRST = (
    tables.analytics_exports,
    tables.token_authorizations,
    tables.referrals,
    tables.promo_campaigns,
    tables.purchases,
    tables.wallet_ledger,
    tables.wallets,
    tables.users,
)
LEDGER_COLUMNS = (
    "id", "user_id", "token_type", "direction", "reason", "amount",
    "balance_after_regular", "balance_after_promo", "reference_id", "metadata", "occurred_at",
)
PURCHASE_COLUMNS = ("id", "user_id", "provider", "provider_ref", "tokens", "amount_inr", "status", "created_at", "paid_at")
REFERRAL_COLUMNS = (
    "id", "campaign_id", "referrer_user_id", "referred_user_id", "status", "bonus_awarded", "created_at", "credited_at",
)
AUTHORIZATION_COLUMNS = (
    "id", "user_id", "feature", "amount", "captured_amount", "status", "created_at", "expires_at", "captured_at",
)
FLUSH_EVERY = 20_000
EPOCH = datetime(1970, 1, 1)
# Declined checkouts, released holds and self-referrals write no ledger row.
LEDGER_ROWS_PER_EVENT = 0.935
ADMIN_USERNAME = "admin"


def _ulid_text(value: int) -> str:
    """The 26-character Crockford form of a 128-bit ULID, ten bits at a time.

    python-ulid does the same one character at a time; at millions of ids that was a third
    of the run time. 26 characters encode 130 bits: 13 pairs, the top two bits zero.
    """
    return "".join([_CROCKFORD_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]


@dataclass
class Summary:
    users: int
    ledger_rows: int
    purchases: int
    referrals: int
    authorizations: int
    first_day: str
    last_day: str


class _Writer:
    """Buffers rows per table and writes them in bulk, parents before children."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.buffers: dict[str, list[tuple]] = {"wallet_ledger": [], "purchases": [], "referrals": [], "token_authorizations": []}
        self.counts = dict.fromkeys(self.buffers, 0)

    def add(self, table: str, row: tuple) -> None:
        self.buffers[table].append(row)
        if len(self.buffers[table]) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        columns = {
            "wallet_ledger": LEDGER_COLUMNS,
            "purchases": PURCHASE_COLUMNS,
            "referrals": REFERRAL_COLUMNS,
            "token_authorizations": AUTHORIZATION_COLUMNS,
        }
        for table, rows in self.buffers.items():
            bulk_insert(self.conn, table, columns[table], rows)
            self.counts[table] += len(rows)
            rows.clear()


class _Simulation:
    def __init__(self, writer: _Writer, rng: random.Random, user_ids: list[int]):
        self.writer = writer
        self.rng = rng
        self.user_ids = user_ids
        self.regular = {u: 0 for u in user_ids}
        self.promo = {u: 0 for u in user_ids}
        self.last_millis = 0

    def new_id(self, at: datetime) -> str:
        # Strictly increasing, so ordering the ledger by id replays each user's balances in order.
        self.last_millis = max(int((at - EPOCH).total_seconds() * 1000), self.last_millis + 1)
        return _ulid_text((self.last_millis << 80) | self.rng.getrandbits(80))

    def ledger(self, user: int, token_type: str, direction: str, reason: str, amount: int, at: datetime,
               reference_id: str | None, metadata: dict | None) -> None:
        balances = self.regular if token_type == "regular" else self.promo
        balances[user] += amount if direction == "credit" else -amount
        self.writer.add("wallet_ledger", (
            self.new_id(at), user, token_type, direction, reason, amount, self.regular[user], self.promo[user],
            reference_id, orjson.dumps(metadata).decode() if metadata is not None else None, at,
        ))

    def register(self, user: int, at: datetime) -> None:
        self.ledger(user, "promo", "credit", "registration_bonus", REGISTRATION_BONUS, at, None, None)

    def event(self, user: int, at: datetime, campaigns: list[str]) -> None:
        roll = self.rng.random()
        if roll < 0.08:
            self.purchase(user, at)
        elif roll < 0.12:
            self.referral(user, at, campaigns)
        elif roll < 0.16:
            self.ledger(user, "promo", "credit", "daily_bonus", self.rng.randint(5, 20), at, None, None)
        else:
            self.spend(user, at)

    def purchase(self, user: int, at: datetime) -> None:
        rng = self.rng
        tokens, price = rng.choices(TOKEN_PACKS, weights=(40, 35, 20, 5))[0]
        provider = rng.choice(("razorpay", "stripe"))
        purchase_id = self.new_id(at)
        created_at = at - timedelta(seconds=rng.randint(5, 90))
        if rng.random() < 0.06:  # an abandoned or declined checkout: no tokens
            status = rng.choice(("failed", "created", "pending"))
            self.writer.add("purchases", (purchase_id, user, provider, None, tokens, price, status, created_at, None))
            return
        provider_ref = f"{provider[:2]}_{rng.getrandbits(48):012x}"
        self.writer.add("purchases", (purchase_id, user, provider, provider_ref, tokens, price, "paid", created_at, at))
        self.ledger(user, "regular", "credit", "purchase", tokens, at, purchase_id, {"provider": provider})

    def referral(self, user: int, at: datetime, campaigns: list[str]) -> None:
        rng = self.rng
        referred = rng.choice(self.user_ids)
        if referred == user:
            return
        referral_id = self.new_id(at)
        campaign = rng.choice(campaigns) if campaigns and rng.random() < 0.8 else None
        if rng.random() < 0.2:
            self.writer.add("referrals", (referral_id, campaign, user, referred, "pending", 0, at, None))
            return
        self.writer.add("referrals", (referral_id, campaign, user, referred, "credited", REFERRAL_BONUS, at, at))
        self.ledger(user, "promo", "credit", "referral_bonus", REFERRAL_BONUS, at, referral_id,
                    {"referred_user_id": referred, "campaign_id": campaign})

    def spend(self, user: int, at: datetime) -> None:
        rng = self.rng
        feature = rng.choices(FEATURES, weights=FEATURE_WEIGHTS)[0]
        hold = rng.randint(5, 300)
        authorization_id = self.new_id(at)
        created_at = at - timedelta(seconds=rng.randint(1, 60))
        expires_at = created_at + timedelta(minutes=15)
        if rng.random() < 0.05:  # the feature failed or the user walked away: the hold is released
            status = rng.choice(("voided", "expired"))
            self.writer.add("token_authorizations", (authorization_id, user, feature, hold, None, status, created_at, expires_at, None))
            return
        captured = max(1, hold - rng.randint(0, hold // 4))
        if self.promo[user] >= captured:
            token_type = "promo"
        elif self.regular[user] >= captured:
            token_type = "regular"
        else:
            self.purchase(user, at)
            return
        self.writer.add("token_authorizations", (authorization_id, user, feature, hold, captured, "captured", created_at, expires_at, at))
        self.ledger(user, token_type, "debit", feature, captured, at, authorization_id,
                    {"authorization_id": authorization_id, "held": hold})


def has_users(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(tables.users.c.id).limit(1)).first() is not None


def generate(engine: Engine, *, users: int, days: int, seed: int, tz: ZoneInfo, rows: int | None = None,
             now: datetime | None = None, replace: bool = False,
             progress: Callable[[int, int], None] = lambda done, total: None) -> Summary:
    """Write `users` users (plus one admin) and about `rows` ledger rows over the last `days`
    local days; `progress(days done, days)` is called after each day."""
    if users < 1 or days < 1:
        raise BusinessRuleViolation("demo data needs at least 1 user and 1 day")
    now = now or utc_now()
    rows = rows if rows is not None else users * 50
    rng = random.Random(seed)
    last_day = local_today(tz, now)
    first_day = last_day - timedelta(days=days - 1)
    start = local_midnight_utc(first_day, tz)

    if has_users(engine) and not replace:
        raise BusinessRuleViolation("the database already has users; pass --replace to overwrite them")
    with bulk_load_engine(engine).begin() as conn, bulk_load_session(conn):
        if replace:
            for table in BASE_TABLES_CHILD_FIRST:
                conn.execute(table.delete())

        # Signup times: a growing user base, most users joining during the period.
        span = (now - start).total_seconds()
        signups = sorted(start + timedelta(seconds=span * (rng.random() ** 0.7) * 0.97) for _ in range(users))
        user_rows = [(1, ADMIN_USERNAME, "admin@example.com", "admin", start - timedelta(days=1))]
        user_rows += [(i + 2, f"user{i + 2:06d}", f"user{i + 2:06d}@example.com", "user", signups[i]) for i in range(users)]
        bulk_insert(conn, "users", ("id", "username", "email", "role", "created_at"), user_rows)
        bulk_insert(conn, "promo_campaigns", ("id", "name", "starts_at", "ends_at"),
                    [(cid, name, start, None) for cid, name in CAMPAIGNS])

        user_ids = [row[0] for row in user_rows[1:]]
        writer = _Writer(conn)
        sim = _Simulation(writer, rng, user_ids)
        # Heavy-tailed activity so that top users stand out.
        weights = [rng.paretovariate(1.5) for _ in user_ids]
        cumulative = []
        total = 0.0
        for w in weights:
            total += w
            cumulative.append(total)
        day_starts = [local_midnight_utc(first_day + timedelta(days=d), tz) for d in range(days + 1)]
        day_ends = [min(end, now) for end in day_starts[1:]]
        active_weight = [cumulative[bisect.bisect_right(signups, end) - 1] if bisect.bisect_right(signups, end) else 0.0
                         for end in day_ends]
        events_left = round(max(rows - users, 0) / LEDGER_ROWS_PER_EVENT)
        weight_left = sum(w * (e - s).total_seconds() for w, s, e in zip(active_weight, day_starts, day_ends))
        campaigns = [cid for cid, _ in CAMPAIGNS]

        next_signup = 0
        for d in range(days):
            day_start, day_end = day_starts[d], day_ends[d]
            joined = bisect.bisect_right(signups, day_end)
            seconds = (day_end - day_start).total_seconds()
            share = active_weight[d] * seconds
            count = round(events_left * share / weight_left) if weight_left > 0 else 0
            events_left -= count
            weight_left -= share
            timeline = [(signups[i], 0, user_ids[i]) for i in range(next_signup, joined)]
            next_signup = joined
            if joined and count:
                chosen = rng.choices(range(joined), cum_weights=cumulative[:joined], k=count)
                for index in chosen:
                    at = day_start + timedelta(seconds=rng.randrange(max(int(seconds), 1)))
                    if at > signups[index]:
                        timeline.append((at, 1, user_ids[index]))
            timeline.sort()
            for at, kind, user in timeline:
                at = at.replace(microsecond=0)
                if kind == 0:
                    sim.register(user, at)
                else:
                    sim.event(user, min(at, now), campaigns)
            progress(d + 1, days)
        writer.flush()
        bulk_insert(conn, "wallets", ("user_id", "balance_regular", "balance_promo", "updated_at"),
                    [(1, 0, 0, now)] + [(u, sim.regular[u], sim.promo[u], now) for u in user_ids])
    # A new history: nothing stored about an old one may remain, and with no stored day the
    # changes the triggers captured while loading mark nothing (forgetting them at once spares
    # the first ETL run millions of rows to fold in).
    forget_stored_days(engine)
    changes.forget_all(engine)

    return Summary(
        users=users + 1,
        ledger_rows=writer.counts["wallet_ledger"],
        purchases=writer.counts["purchases"],
        referrals=writer.counts["referrals"],
        authorizations=writer.counts["token_authorizations"],
        first_day=first_day.isoformat(),
        last_day=last_day.isoformat(),
    )
