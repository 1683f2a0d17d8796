"""Change capture: triggers record which UTC minutes every committed change to the analytics'
base data touched, whoever writes it; partial days (today, materialized as it goes); queued
ETL runs (asked for through the API, run by a worker).

`analytics_changes` is append-only for writers (one row per change, an AUTO_INCREMENT key and no
other index), so concurrent writers never wait on one counter or one "dirty" row; the ETL's
fold-in reads it and deletes exactly the rows it has folded in (core/changes.py).

The trigger bodies are written out here, not imported: a migration must mean the same in a year.

Revision ID: 0006_change_capture
Revises: 0005_day_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_change_capture"
down_revision = "0005_day_versions"
branch_labels = None
depends_on = None

ETL_RUN_STATUSES_BEFORE = ("running", "succeeded", "failed")
ETL_RUN_STATUSES = ("queued", "running", "succeeded", "failed")

# Minute number since 1970-01-01 of a naive-UTC DATETIME; written to the log with the UTC time of
# the change. Neither depends on the writer's session time zone.
MYSQL_MINUTE = "TIMESTAMPDIFF(MINUTE, '1970-01-01 00:00:00', {})"
MYSQL_NOW = "UTC_TIMESTAMP()"
SQLITE_MINUTE = "(CAST(strftime('%s', {}) AS INTEGER) / 60)"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%S', 'now')"

# What each base table's rows count under: the timestamp that dates them, when they count at all,
# and the columns whose change moves a number (DESIGN.md, "Meaning of the numbers").
CAPTURED = {
    "wallet_ledger": {
        "at": "occurred_at",
        "counts": None,
        "columns": ("occurred_at", "user_id", "token_type", "direction", "reason", "amount"),
        "texts": ("reason",),
    },
    "purchases": {
        "at": "paid_at",
        "counts": "{row}.status = 'paid' AND {row}.paid_at IS NOT NULL",
        "columns": ("paid_at", "status", "user_id", "tokens", "amount_inr"),
        "texts": (),
    },
    "referrals": {
        "at": "created_at",
        "counts": None,
        "columns": ("created_at", "campaign_id", "referrer_user_id", "status", "bonus_awarded"),
        "texts": ("campaign_id",),
    },
}
# Deleting a user or a campaign changes rows of other tables through foreign-key actions
# (CASCADE, SET NULL), which fire no trigger on MariaDB/MySQL: mark their minutes before.
CASCADES = {
    "users": (
        ("wallet_ledger", "occurred_at", "user_id = OLD.id"),
        ("purchases", "paid_at", "user_id = OLD.id AND status = 'paid' AND paid_at IS NOT NULL"),
        ("referrals", "created_at", "(referrer_user_id = OLD.id OR referred_user_id = OLD.id)"),
    ),
    "promo_campaigns": (
        ("referrals", "created_at", "campaign_id = OLD.id"),
    ),
}


def _trigger_names() -> list[tuple[str, str]]:
    names = [(f"analytics_capture_{table}_{event}", table)
             for table in CAPTURED for event in ("insert", "update", "delete")]
    names += [(f"analytics_capture_{table}_delete", table) for table in CASCADES]
    return names


def _cascade_triggers(minute: str, now: str, for_each_row: str) -> list[str]:
    """BEFORE DELETE on users and campaigns: the minutes of the rows their deletion changes."""
    statements = []
    for table, cascades in CASCADES.items():
        inserts = " ".join(
            f"INSERT INTO analytics_changes (minute, changed_at) SELECT DISTINCT {minute.format(at)}, {now} "
            f"FROM {child} WHERE {where};"
            for child, at, where in cascades
        )
        statements.append(
            f"CREATE TRIGGER analytics_capture_{table}_delete BEFORE DELETE ON {table} {for_each_row}BEGIN {inserts} END"
        )
    return statements


def _mysql_triggers() -> list[str]:
    minute, now = MYSQL_MINUTE, MYSQL_NOW
    statements = []
    for table, spec in CAPTURED.items():
        def mark(row: str, spec=spec) -> str:
            insert = f"INSERT INTO analytics_changes (minute, changed_at) VALUES ({minute.format(f'{row}.' + spec['at'])}, {now});"
            if spec["counts"] is None:
                return insert
            return f"IF {spec['counts'].format(row=row)} THEN {insert} END IF;"

        def same(column: str, spec=spec) -> str:
            if column in spec["texts"]:  # byte for byte: the column's collation ignores case
                return f"CAST(OLD.{column} AS BINARY) <=> CAST(NEW.{column} AS BINARY)"
            return f"OLD.{column} <=> NEW.{column}"

        unchanged = " AND ".join(same(column) for column in spec["columns"])
        statements += [
            f"CREATE TRIGGER analytics_capture_{table}_insert AFTER INSERT ON {table} FOR EACH ROW BEGIN {mark('NEW')} END",
            f"CREATE TRIGGER analytics_capture_{table}_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN {mark('OLD')} END",
            f"CREATE TRIGGER analytics_capture_{table}_update AFTER UPDATE ON {table} FOR EACH ROW BEGIN "
            f"IF NOT ({unchanged}) THEN {mark('OLD')} {mark('NEW')} END IF; END",
        ]
    return statements + _cascade_triggers(minute, now, "FOR EACH ROW ")


def _sqlite_triggers() -> list[str]:
    minute, now = SQLITE_MINUTE, SQLITE_NOW
    statements = []
    for table, spec in CAPTURED.items():
        def mark(row: str, spec=spec) -> str:
            where = "" if spec["counts"] is None else f" WHERE {spec['counts'].format(row=row)}"
            return (f"INSERT INTO analytics_changes (minute, changed_at) "
                    f"SELECT {minute.format(f'{row}.' + spec['at'])}, {now}{where};")

        unchanged = " AND ".join(f"OLD.{column} IS NEW.{column}" for column in spec["columns"])
        statements += [
            f"CREATE TRIGGER analytics_capture_{table}_insert AFTER INSERT ON {table} BEGIN {mark('NEW')} END",
            f"CREATE TRIGGER analytics_capture_{table}_delete AFTER DELETE ON {table} BEGIN {mark('OLD')} END",
            f"CREATE TRIGGER analytics_capture_{table}_update AFTER UPDATE ON {table} "
            f"WHEN NOT ({unchanged}) BEGIN {mark('OLD')} {mark('NEW')} END",
        ]
    return statements + _cascade_triggers(minute, now, "")


def upgrade() -> None:
    op.create_table(
        "analytics_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("minute", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("analytics_token_daily") as batch:
        batch.add_column(sa.Column("covered_until", sa.DateTime, nullable=True))
    with op.batch_alter_table("analytics_etl_runs") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*ETL_RUN_STATUSES_BEFORE, name="etl_run_status", create_constraint=True),
            type_=sa.Enum(*ETL_RUN_STATUSES, name="etl_run_status", create_constraint=True),
            existing_nullable=False,
        )
        batch.add_column(sa.Column("queued_at", sa.DateTime, nullable=True))
    triggers = _sqlite_triggers() if op.get_bind().dialect.name == "sqlite" else _mysql_triggers()
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    for name, _table in _trigger_names():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("analytics_etl_runs") as batch:
        batch.drop_column("queued_at")
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*ETL_RUN_STATUSES, name="etl_run_status", create_constraint=True),
            type_=sa.Enum(*ETL_RUN_STATUSES_BEFORE, name="etl_run_status", create_constraint=True),
            existing_nullable=False,
        )
    with op.batch_alter_table("analytics_token_daily") as batch:
        batch.drop_column("covered_until")
    op.drop_table("analytics_changes")
