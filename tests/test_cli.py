"""`flask --app webapp shell` and commands: an app context with Session, catalog, tables, classes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.session import Session
from webapp.app.cli import run_flask_command

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_shell_namespace(app):
    with app.app_context():
        namespace = app.make_shell_context()
        assert namespace["Session"] is Session and namespace["select"] is sa.select
        catalog = namespace["catalog"]
        assert namespace["books"] is catalog.table("books") is namespace["tables"].books
        assert namespace["Books"] is namespace["models"].Books
        assert namespace["ReportingLoanEvents"].__table__ is catalog.table("reporting.loan_events")
        assert "loan_events" not in namespace  # only the default schema's tables by bare name
        assert namespace["database"]("main").catalog is catalog  # database(name), as in views
        count = Session.scalar(sa.select(sa.func.count()).select_from(namespace["Books"]))
        assert count == Session.scalar(sa.select(sa.func.count()).select_from(namespace["books"]))


def _environment(database_url):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="public,reporting",
        RELOAD_CHANNEL="",
    )
    return env


@pytest.mark.slow
def test_flask_shell_has_the_namespace(database_url, engine):
    script = (
        "print('books:', Session.scalar(select(sa.func.count()).select_from(Books)))\n"
        "print('tables:', tables['reporting.loan_events'].fullname, loans.fullname)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapp", "shell"],
        input=script,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=_environment(database_url),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        books = conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    assert f"books: {books}" in done.stdout
    assert "tables: reporting.loan_events public.loans" in done.stdout


@pytest.mark.slow
def test_flask_commands_run_in_an_app_context(database_url):
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapp", "team", "report"],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=_environment(database_url),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()][:2] == ["Central", "Harbour"]


def _config(database_url):
    return {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "DB_SCHEMAS": "public,reporting",
        "RELOAD_CHANNEL": "",
    }


def test_run_flask_command(database_url, capsys):
    assert run_flask_command(["team", "report"], _config(database_url)) == 0
    out = capsys.readouterr().out
    assert "Harbour" in out and "copies" in out


@pytest.mark.parametrize(("args", "status"), [(["--help"], 0), (["no-such-command"], 2)])
def test_run_flask_command_exit_status(database_url, capsys, args, status):
    assert run_flask_command(args, _config(database_url)) == status
    captured = capsys.readouterr()
    assert ("team" in captured.out) if status == 0 else ("No such command" in captured.err)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["flask", "team", "report"], None, "Harbour"),
        (["shell"], "print('classes:', len(models))\n", "classes: 12"),
    ],
    ids=["flask-command", "shell"],
)
def test_run_py_commands_run_in_an_app_context(database_url, args, stdin, expected):
    done = subprocess.run(
        [sys.executable, "run.py", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=_environment(database_url),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
