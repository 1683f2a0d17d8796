import jwt
import pytest

from core.auth import verify_admin_token
from tests.conftest import JWT_SECRET
from workers.cli import build_parser, main


def test_migrate_demo_data_and_token(db, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate"]) == 0
    assert "revision 0" in capsys.readouterr().out
    assert main(["demo-data", "--users", "5", "--days", "3", "--seed", "2"]) == 0
    assert "6 users" in capsys.readouterr().out
    assert main(["demo-data", "--users", "5", "--days", "3", "--if-empty"]) == 0
    assert "left as it is" in capsys.readouterr().out
    assert main(["token"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify_admin_token(token, JWT_SECRET).user_id == 1
    assert jwt.decode(token, JWT_SECRET, algorithms=["HS256"])["scope"] == "admin"


def test_token_refuses_a_user_who_is_not_an_admin(db, env, monkeypatch, capsys):
    from tests.factories import add_user

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    add_user(db, 9, role="user")
    assert main(["token", "--user-id", "9"]) == 1
    assert "not 'admin'" in capsys.readouterr().err
    assert main(["token", "--user-id", "404"]) == 1


def test_a_database_that_was_never_migrated_gets_one_line(env, monkeypatch, capsys, tmp_path):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["etl", "--date", "2025-11-01"]) == 1
    assert main(["exports", "cleanup"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("run `wallet-analytics migrate` first" in line for line in err), err
    assert err[0].startswith("wallet-analytics etl: database error: no such table")


def test_a_mysql_database_that_was_never_migrated_gets_the_same_hint(env, mysql_url, monkeypatch, capsys):
    import uuid

    import sqlalchemy as sa

    database = f"wa_test_unmigrated_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(mysql_url.set(database=None), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DATABASE_URL", mysql_url.set(database=database).render_as_string(False))
        assert main(["exports", "cleanup"]) == 1
        assert "run `wallet-analytics migrate` first" in capsys.readouterr().err
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {database}")
        server.dispose()


def test_version_and_examples_in_every_commands_help(capsys):

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("wallet-analytics ")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("migrate", "demo-data", "token", "etl", "verify", "scheduler", "web", "worker", "serve"):
        text = commands[name].format_help()
        assert "examples:" in text and "wallet-analytics" in text.split("examples:")[1], name


def test_bad_worker_and_port_variables_are_one_line_and_exit_2(monkeypatch, capsys):
    for name, value in (("WORKER_PROCESSES", "two"), ("WORKER_THREADS", "0"), ("PORT", "70000"),
                        ("FOLD_INTERVAL_SECONDS", "²"), ("WORKER_IDLE_POLL_MS", "²"), ("WEB_CONCURRENCY", "two"),
                        ("WEB_THREADS", "-1"), ("WEB_TIMEOUT", "1.5"), ("BIND", "localhost"), ("LOG_FORMAT", "xml")):
        monkeypatch.setenv(name, value)
        assert main(["exports", "cleanup"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err
        monkeypatch.delenv(name)


def test_token_hours_outside_1_to_720_are_refused(db, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for hours in ("-5", "0.5", "100000"):
        assert main(["token", "--hours", hours]) == 1
        assert "--hours must be from 1 to 720" in capsys.readouterr().err
