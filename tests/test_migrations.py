import ast
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core import migrate
from core.dialect import REALTIME_VIEW
from core.tables import metadata


def test_migrations_build_exactly_the_tables_of_core(db):
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_realtime_view_aggregates_the_ledger(db):
    from tests.factories import add_ledger, add_user

    add_user(db, 1)
    add_ledger(db, 1, "credit", 1000, "2025-11-01 10:00:00")
    add_ledger(db, 1, "debit", 400, "2025-11-01 11:00:00")
    with db.connect() as conn:
        row = conn.execute(sa.text(f"SELECT * FROM {REALTIME_VIEW}")).mappings().one()
    assert (row["credited"], row["debited"], row["net"], row["active_users"]) == (1000, 400, 600, 1)


def test_downgrade_to_base_and_back(database_url):
    from core.db import get_engine

    engine = get_engine(database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_revisions_import_nothing_of_core():
    """A revision must mean the same in a year: it carries what it needs instead of importing `core`."""
    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    for path in sorted(versions.glob("*.py")):
        tree = ast.parse(path.read_text())
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {m for m in modules if m and m.split(".")[0] == "core"}, path.name
