import jwt

from core.auth import verify_admin_token
from tests.conftest import JWT_SECRET
from workers.cli import main


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
    assert verify_admin_token(f"Bearer {token}", JWT_SECRET).user_id == 1
    assert jwt.decode(token, JWT_SECRET, algorithms=["HS256"])["scope"] == "admin"


def test_token_refuses_a_user_who_is_not_an_admin(db, env, monkeypatch, capsys):
    from tests.factories import add_user

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    add_user(db, 9, role="user")
    assert main(["token", "--user-id", "9"]) == 1
    assert "not 'admin'" in capsys.readouterr().err
    assert main(["token", "--user-id", "404"]) == 1
