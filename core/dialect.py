"""Everything that differs between MariaDB/MySQL and SQLite, in one place."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa
from pymysql.constants import CLIENT
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.ext.compiler import compiles

UNSIGNED_BIGINT = sa.BigInteger().with_variant(mysql.BIGINT(unsigned=True), "mysql", "mariadb")
UNSIGNED_INT = sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql", "mariadb")
# SQLite stores DATETIME as text and compares it as text: one format, whole seconds, for
# every row and every bound, or a row at exactly local midnight lands on the wrong day.
UTC_DATETIME = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)
# Serialized roaring bitmaps of user ids; a day of 100k users is ~16 KB, past BLOB's 64 KB at ~4M.
BITMAP = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
# A parenthesised default is an expression on MySQL 8, MariaDB and SQLite alike.
EMPTY_JSON_OBJECT = sa.text("('{}')")

REALTIME_VIEW = "v_token_analytics_realtime"
# The spec's view, kept for ad-hoc SQL by other tools. Its dates are UTC dates; the API never
# reads it (see README, "Decisions").
REALTIME_VIEW_SELECT = """
SELECT
    DATE(occurred_at) AS date,
    SUM(CASE WHEN direction = 'credit' THEN amount ELSE 0 END) AS credited,
    SUM(CASE WHEN direction = 'debit' THEN amount ELSE 0 END) AS debited,
    SUM(CASE WHEN direction = 'credit' THEN CAST(amount AS SIGNED) ELSE -CAST(amount AS SIGNED) END) AS net,
    COUNT(DISTINCT user_id) AS active_users
FROM wallet_ledger
GROUP BY DATE(occurred_at)
"""


def enum(*values: str, name: str) -> sa.Enum:
    """A native ENUM on MySQL, a CHECK constraint on SQLite."""
    return sa.Enum(*values, name=name, native_enum=True, create_constraint=True)


MYSQL_NO_SUCH_TABLE = 1146


def is_missing_table(error: sa.exc.DBAPIError) -> bool:
    """The database has not been migrated (or lost a table)."""
    code = error.orig.args[0] if getattr(error.orig, "args", None) else None
    return code == MYSQL_NO_SUCH_TABLE or "no such table" in str(error.orig)


def is_sqlite(bind: Connection | Engine) -> bool:
    return bind.dialect.name == "sqlite"


def create_realtime_view_sql(dialect_name: str) -> str:
    select = REALTIME_VIEW_SELECT
    if dialect_name == "sqlite":
        # SQLite has no SIGNED type and no CREATE OR REPLACE VIEW.
        select = select.replace("CAST(amount AS SIGNED)", "amount")
        return f"CREATE VIEW IF NOT EXISTS {REALTIME_VIEW} AS {select}"
    return f"CREATE OR REPLACE VIEW {REALTIME_VIEW} AS {select}"


def engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {
        "pool_pre_ping": True,
        "pool_recycle": 3600,
        # Naive DATETIMEs are UTC: make NOW()/CURRENT_TIMESTAMP agree with them.
        # group_concat_max_len: GROUP_CONCAT must never truncate (see distinct_ids).
        "connect_args": {"init_command": "SET time_zone = '+00:00', group_concat_max_len = 4294967295",
                         "charset": "utf8mb4"},
    }


def on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def take_write_lock(conn: Connection) -> None:
    """On SQLite, the database's write lock now (BEGIN IMMEDIATE), before the reads that decide
    what the transaction writes: Python's sqlite3 begins a transaction only at the first write,
    so two of them would both read, then both write. MariaDB locks rows (FOR UPDATE) instead.
    The first statement of its transaction."""
    if is_sqlite(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot of the database. InnoDB gives one to every
    transaction (REPEATABLE READ); Python's sqlite3 begins a transaction only before a write,
    so on SQLite the read transaction is begun here."""
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn.exec_driver_sql("BEGIN")
        yield conn


def without_gap_locks(engine: Engine) -> Engine:
    """The engine for transactions that delete captured changes (core.changes) by id: READ
    COMMITTED on MariaDB/MySQL, so InnoDB locks the rows it deletes and never the gap at the end
    of the log that writers' triggers append to (REPEATABLE READ's next-key locks made writers
    wait on a fold-in). SQLite has one writer at a time anyway."""
    if is_sqlite(engine):
        return engine
    return engine.execution_options(isolation_level="READ COMMITTED")


def upsert(conn: Connection, table: sa.Table, rows: Sequence[dict], key: Iterable[str],
           insert_only: Iterable[str] = ()) -> None:
    """Insert rows, replacing every column of rows whose key already exists but the key's and
    `insert_only`'s (e.g. a created_at that must keep its first value)."""
    if not rows:
        return
    kept = set(key) | set(insert_only)
    key = set(key)
    columns = [c for c in rows[0] if c not in kept]
    if is_sqlite(conn):
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=sorted(key), set_={c: stmt.excluded[c] for c in columns}
        )
    else:
        stmt = mysql.insert(table)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns})
    conn.execute(stmt, list(rows))


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert many rows fast: LOAD DATA LOCAL INFILE on MySQL when the connection allows it
    (see `core.db.bulk_load_engine`), executemany otherwise.

    Datetimes must be whole seconds: SQLite's adapter then writes the same text as UTC_DATETIME.
    """
    if not rows:
        return
    if not is_sqlite(conn) and conn.connection.dbapi_connection.client_flag & CLIENT.LOCAL_FILES:
        _load_data(conn, table, columns, rows)
        return
    marker = "?" if is_sqlite(conn) else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    conn.exec_driver_sql(sql, list(rows))


def _load_data(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    # PyMySQL escapes every value in Python; the server parses a CSV file many times faster.
    # With ESCAPED BY '' an unquoted NULL is SQL NULL and "" inside quotes is a literal quote.
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows(tuple("NULL" if value is None else value for value in row) for row in rows)
        handle.flush()
        conn.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE '{handle.name}' INTO TABLE {table} CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
            f"LINES TERMINATED BY '\\n' ({', '.join(columns)})"
        )


def insert_numbers(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple],
                   chunk: int = 10_000) -> None:
    """INSERT rows of whole numbers and dates, their VALUES written out here: such values need no
    escaping, and the driver's escaping of each value took longer than the server's insert (a
    day's 35,000 per-user sums: 0.33 s by executemany, 0.11 s so)."""
    names = ", ".join(table.c[name].name for name in columns)
    for start in range(0, len(rows), chunk):
        values = ",".join(f"({','.join(map(_number_literal, row))})" for row in rows[start:start + chunk])
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES {values}")


def _number_literal(value: object) -> str:
    if type(value) is int:  # not bool, not a subclass with its own str()
        return str(value)
    if type(value) is date:
        return f"'{value.isoformat()}'"
    raise TypeError(f"insert_numbers takes whole numbers and dates, not {type(value).__name__}")


@contextmanager
def bulk_load_session(conn: Connection) -> Iterator[None]:
    """Skip per-row unique and foreign-key checks on MySQL while loading rows known to be consistent."""
    if is_sqlite(conn):
        yield
        return
    conn.exec_driver_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    try:
        yield
    finally:
        conn.exec_driver_sql("SET SESSION unique_checks = 1, foreign_key_checks = 1")


def insert_from_select_adding(conn: Connection, table: sa.Table, source: sa.Select, key: Sequence[str],
                              summed: Sequence[str]) -> None:
    """INSERT INTO table SELECT ...; where a key exists already, add the `summed` columns to it."""
    columns = [c.name for c in source.selected_columns]
    if is_sqlite(conn):
        # "WHERE true" settles SQLite's INSERT ... SELECT ... ON CONFLICT parsing ambiguity.
        stmt = sqlite.insert(table).from_select(columns, source.where(sa.true()))
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: table.c[c] + stmt.excluded[c] for c in summed}
        )
    else:
        stmt = mysql.insert(table).from_select(columns, source)
        stmt = stmt.on_duplicate_key_update({c: table.c[c] + stmt.inserted[c] for c in summed})
    conn.execute(stmt)


# Named locks of MySQL/MariaDB: held by one session, released when it ends (so a crashed
# holder's lock goes with its connection). Names are server-wide, at most 64 characters.
def try_named_lock(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar() == 1


def holds_named_lock(conn: Connection, name: str) -> bool:
    return conn.execute(
        sa.text("SELECT IS_USED_LOCK(:name) = CONNECTION_ID()"), {"name": name}
    ).scalar() == 1


def named_lock_is_used(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT IS_USED_LOCK(:name) IS NOT NULL"), {"name": name}).scalar() == 1


def release_named_lock(conn: Connection, name: str) -> None:
    conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})


def distinct_ids(column: sa.ColumnElement) -> sa.ColumnElement:
    """The distinct values of an integer column as one comma-separated text, NULL for none.

    One text travels and parses far faster than a row per id. SQLite has no length limit; MySQL
    truncates at group_concat_max_len, which engine_options raises to its maximum.
    """
    return sa.func.group_concat(sa.distinct(column))


def exact_collation(bind: Connection | Engine) -> str | None:
    """The collation that compares text byte for byte, trailing spaces included (a NO PAD binary
    one); None on SQLite, whose default already does. MySQL's default collation ignores case and
    trailing spaces, which the Python side of the analytics does not."""
    if is_sqlite(bind):
        return None
    return "utf8mb4_nopad_bin" if bind.dialect.is_mariadb else "utf8mb4_0900_bin"


def exactly(bind: Connection | Engine, column: sa.ColumnElement) -> sa.ColumnElement:
    """`column` compared and grouped byte for byte (see exact_collation)."""
    collation = exact_collation(bind)
    return column if collation is None else sa.collate(column, collation)


def equals_exactly(bind: Connection | Engine, column: sa.ColumnElement, value: str) -> sa.ColumnElement[bool]:
    """`column = value` byte for byte; the collation goes on the value, not the column, so the
    column stays index-friendly."""
    return column == exactly(bind, sa.literal(value, sa.String))


class _ExactText(sa.sql.functions.FunctionElement):
    """A text value compared byte for byte by whichever database the query is compiled for."""

    type = sa.String()
    name = "exact_text"
    inherit_cache = True


@compiles(_ExactText)
def _exact_text_as_is(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_ExactText, "mysql")
@compiles(_ExactText, "mariadb")
def _exact_text_collated(element, compiler, **kw):
    collation = "utf8mb4_nopad_bin" if compiler.dialect.is_mariadb else "utf8mb4_0900_bin"
    return f"{compiler.process(element.clauses, **kw)} COLLATE {collation}"


def equals_exactly_anywhere(column: sa.ColumnElement, value: str) -> sa.ColumnElement[bool]:
    """`equals_exactly` for a query built before it knows its database (the export datasets)."""
    return column == _ExactText(sa.literal(value, sa.String))
