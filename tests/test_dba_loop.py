"""The DBA's daily loop: write a SQL file, apply it while the app runs, see it served.

Real subprocesses of run.py, as a DBA types them: apply-sql, psql, url, init, shell and the
Flask commands next to a running app on the embedded default.
"""

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from documentation import code_blocks, section

from db.sqlfiles import apply_sql_dir

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _env(**extra):
    """The environment of a DBA's shell: no DATABASE_URL unless given."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SCHEMAS")}
    env.update(extra)
    return env


def _run_py(args, env, stdin=None, cwd=PROJECT_DIR):
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "run.py"), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _start_app(root, sql_dir, cwd=PROJECT_DIR, **settings):
    """run.py on the embedded default in root/data (unless settings say otherwise), serving
    sql_dir; waits until it serves."""
    defaults = {"DATA_DIR": str(root / "data"), "SQL_DIR": str(sql_dir), "LOG_LEVEL": "WARNING"}
    env = _env(**{**defaults, **settings})
    log = open(root / "app.log", "w")  # noqa: SIM115 - closed by _stop_app
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "run.py"), "--port", "0", "--threads", "2"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("Serving on http://"):
        _stop_app(SimpleNamespace(process=process, log=log))
        pytest.fail(f"run.py did not serve: {line}{(root / 'app.log').read_text()}")
    return SimpleNamespace(
        process=process,
        log=log,
        base=line.split()[2],
        env=env,
        data_dir=root / "data",
        sql_dir=sql_dir,
    )


def _stop_app(app):
    if app.process.poll() is None:
        app.process.send_signal(signal.SIGTERM)
        try:
            app.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.communicate()
    else:
        app.process.communicate()
    app.log.close()


@pytest.fixture(scope="module")
def running_app(tmp_path_factory):
    """`python run.py` on the embedded default, with a temporary DATA_DIR and a copy of sql/."""
    root = tmp_path_factory.mktemp("dba_loop")
    sql_dir = root / "sql"
    shutil.copytree(PROJECT_DIR / "sql", sql_dir)
    app = _start_app(root, sql_dir)
    yield app
    _stop_app(app)
    assert app.process.returncode == 0


def _readme_loop_block():
    """The tour's sh block that adds a table while the app runs on the embedded default."""
    (block,) = code_blocks("sh", section("A schema change"))
    return block


@pytest.mark.slow
def test_the_readme_loop_adds_a_served_table_without_a_restart(running_app, eventually):
    """Do what the README says: a new numbered file, apply-sql, the table is served, psql -c works."""
    block = _readme_loop_block()
    name, text = re.search(r"cat > sql/(\S+) <<'SQL'\n(.*?)\nSQL\n", block, flags=re.S).groups()
    commands = [line for line in block.splitlines() if line.startswith(("python run.py", "curl "))]
    assert [command.split()[:3] for command in commands] == [
        ["python", "run.py", "apply-sql"],
        ["curl", "http://127.0.0.1:8000/api/reviews"],
        ["python", "run.py", "psql"],
    ]
    base = running_app.base
    assert _status(base + "api/reviews")[0] == 404
    (running_app.sql_dir / name).write_text(text + "\n")

    applied = _run_py(shlex.split(commands[0])[2:], running_app.env)
    assert applied.returncode == 0, applied.stderr
    assert f"applied {name} in " in applied.stdout
    assert f"PostgreSQL that process {running_app.process.pid} runs" in applied.stdout

    path = commands[1].split("http://127.0.0.1:8000/")[1]
    assert eventually(lambda: _status(base + path)[0] == 200)
    assert [row["stars"] for row in _status(base + path)[1]] == [5]

    described = _run_py(shlex.split(commands[2])[2:], running_app.env)
    assert described.returncode == 0, described.stderr
    assert "stars" in described.stdout and "book_id" in described.stdout


def _steps(block):
    """A README sh block as the steps a newcomer takes, one per line (heredocs whole)."""
    lines = iter(block.splitlines())
    for line in lines:
        if heredoc := re.fullmatch(r"cat > (\S+) <<'SQL'", line):
            text = "\n".join(itertools.takewhile(lambda body: body != "SQL", lines)) + "\n"
            yield "write", heredoc.group(1), text
        elif line.startswith("export "):
            yield "export", *line.removeprefix("export ").split("=", 1)
        elif line.startswith("curl "):
            words = shlex.split(line)
            headers = [words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H"]
            (url,) = [word for word in words if word.startswith("http://")]
            yield "curl", url, dict(headers)
        else:  # [NAME=value ...] python run.py [args]  # a comment
            words = shlex.split(line, comments=True)
            leading = itertools.takewhile(lambda word: "=" in word, words)
            settings = dict(word.split("=", 1) for word in leading)
            assert words[len(settings) : len(settings) + 2] == ["python", "run.py"], line
            yield "run.py", settings, words[len(settings) + 2 :]


@pytest.mark.slow
def test_the_readme_adds_a_table_on_your_own_server_without_a_restart(
    pg_server, tmp_path, eventually
):
    """The README's own-server steps: init, apply-sql, serve; then, while it serves, a new
    file and apply-sql, and the table is served (apply-sql's NOTIFY), with no restart."""
    _, setup, add_table = code_blocks("sh", section("Your own database"))
    database = pg_server.create_database("pgfront_own").render_as_string(hide_password=False)
    env, app = {}, None
    try:
        for step in [*_steps(setup), *_steps(add_table)]:
            if step[0] == "export":  # the README's example server: a database of the test server
                assert step[1] == "DATABASE_URL" and step[2].startswith("postgresql://")
                env["DATABASE_URL"] = database
            elif step[0] == "write":
                (tmp_path / step[1]).write_text(step[2])
            elif step[0] == "run.py" and step[2]:
                done = _run_py(step[2], _env(**env, **step[1]), cwd=tmp_path)
                assert done.returncode == 0, done.stderr
            elif step[0] == "run.py":  # serve, and go on in a second shell
                app = _start_app(tmp_path, tmp_path / "schema", cwd=tmp_path, **env, **step[1])
                assert _status(app.base + "api/notes")[0] == 200
                assert _status(app.base + "api/tags")[0] == 404
            else:
                url = app.base + step[1].split("http://127.0.0.1:8000/")[1]
                assert eventually(lambda url=url: _status(url)[0] == 200)
                assert _status(url)[1] == [{"note_id": 1, "tag": "welcome"}]
        assert app.process.poll() is None  # the same process served it: no restart
    finally:
        if app is not None:
            _stop_app(app)


@pytest.mark.slow
def test_the_readme_sql_page_steps_on_the_embedded_default(tmp_path):
    """The tour's SQL page steps, typed on a fresh embedded default: apply-sql, psql's
    CREATE ROLE, run.py with the page on, and the curl that runs a query."""
    (block,) = code_blocks("sh", section("A query on the SQL page"))
    *commands, serve, curl = _steps(block)
    env = _env(DATA_DIR=str(tmp_path / "data"), LOG_LEVEL="WARNING")
    for _, settings, args in commands:
        assert settings == {}
        done = _run_py(args, env)
        assert done.returncode == 0, done.stderr
    assert serve[0] == "run.py" and serve[2] == []
    app = _start_app(tmp_path, PROJECT_DIR / "sql", **serve[1])
    try:
        url = app.base + curl[1].split("http://127.0.0.1:8000/")[1]
        request = urllib.request.Request(url, headers=curl[2])
        with urllib.request.urlopen(request, timeout=30) as response:
            lines = response.read().decode().splitlines()
        counts = [int(line.split(",")[1]) for line in lines[1:]]
        assert lines[0] == "genre,count" and counts and counts == sorted(counts, reverse=True)
    finally:
        _stop_app(app)


@pytest.mark.slow
def test_the_readme_team_view_served_from_a_package_of_your_own(tmp_path):
    """The tour's team view, as typed: the file saved where it says (outside pgfront's tree),
    a secret and a librarian's token, run.py with PYTHONPATH and BLUEPRINTS, then the curl."""
    tour = section("A team view")
    (view,) = code_blocks("python", tour)
    home = tmp_path / "home"  # the README's ~
    saved = re.search(r"Save this as `~/(\S+)`,\s+beside an empty `~/(\S+)`", tour).groups()
    for name, text in zip(saved, (view, ""), strict=True):
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    start, ask = code_blocks("sh", tour)
    (_, name, value), (_, _, token_args), (_, settings, serve_args) = _steps(start)
    secret = subprocess.run(["bash", "-c", f"printf %s {value}"], capture_output=True, text=True)
    env = _env(DATA_DIR=str(tmp_path / "data"), **{name: secret.stdout})
    token = _run_py(token_args, env)
    assert token.returncode == 0, token.stderr
    settings = {key: text.replace("~", str(home)) for key, text in settings.items()}
    assert serve_args == []
    app = _start_app(tmp_path, PROJECT_DIR / "sql", **{name: secret.stdout}, **settings)
    try:
        ((_, url, headers),) = _steps(ask)
        url = app.base + url.split("http://127.0.0.1:8000/")[1]
        assert _status(url)[0] == 401  # web_anon may not read members and loans
        headers = {
            key: text.replace("<token>", token.stdout.strip()) for key, text in headers.items()
        }
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            rows = json.loads(response.read())
        assert 0 < len(rows) <= 20
        assert [row["late"] for row in rows] == sorted((row["late"] for row in rows), reverse=True)
    finally:
        _stop_app(app)


@pytest.mark.slow
def test_shell_and_flask_commands_reach_the_running_app(running_app):
    routes = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapp", "routes"],
        cwd=PROJECT_DIR,
        env=running_app.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert routes.returncode == 0, routes.stderr
    assert "/ready" in routes.stdout
    shell = _run_py(["shell"], running_app.env, stdin="print('branches:', len(branches.c))\n")
    assert shell.returncode == 0, shell.stderr
    assert "branches:" in shell.stdout and "Traceback" not in shell.stderr
    flask = _run_py(["flask", "routes"], running_app.env)
    assert flask.returncode == 0 and "/ready" in flask.stdout, flask.stderr
    assert _status(running_app.base + "ready")[0] == 200  # the app still serves


@pytest.mark.slow
def test_url_and_psql_reach_the_running_app(running_app):
    url = _run_py(["url"], running_app.env)
    assert url.returncode == 0, url.stderr
    shown = url.stdout.strip()
    assert re.fullmatch(r"postgresql://postgres:\*\*\*@127\.0\.0\.1:\d+/library", shown), shown
    password = (running_app.data_dir / "postgres" / "password").read_text().strip()
    full = _run_py(["url", "--show-password"], running_app.env)
    assert full.stdout.strip() == shown.replace("***", password)

    psql = _run_py(
        ["psql", "-At", "-c", "select current_user, current_database()"], running_app.env
    )
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip() == "postgres|library"
    failed = _run_py(["psql", "-c", "select * from no_such_table"], running_app.env)
    assert failed.returncode != 0 and "no_such_table" in failed.stderr


@pytest.mark.slow
def test_the_running_app_publishes_its_server_to_its_owner_only(running_app):
    state_file = running_app.data_dir / "postgres" / "running.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text())["pid"] == running_app.process.pid


@pytest.mark.slow
def test_a_second_server_on_the_same_data_dir_is_refused(running_app):
    second = _run_py(["--port", "0"], running_app.env)
    assert second.returncode == 2
    assert second.stderr == (
        f"error: the embedded database in {running_app.data_dir / 'postgres'} is in use by "
        f"process {running_app.process.pid}; stop it first, or set DATA_DIR to another folder\n"
    )


@pytest.mark.slow
def test_a_killed_app_does_not_mislead_the_next_command(tmp_path):
    """Your own folder from `run.py init`, served; the app is killed; the state file it left is stale."""
    sql_dir = tmp_path / "schema"
    created = _run_py(["init", str(sql_dir)], _env())
    assert created.returncode == 0, created.stderr
    app = _start_app(tmp_path, sql_dir)
    try:
        assert _status(app.base + "ready")[0] == 200
        app.process.kill()  # no chance to clean up: running.json stays, PostgreSQL runs on
        app.process.wait()
        assert (app.data_dir / "postgres" / "running.json").exists()
        url = _run_py(["url"], app.env)
        assert url.returncode == 2
        assert url.stderr.startswith("error: the embedded PostgreSQL in ") and "not running" in (
            url.stderr
        )
        (sql_dir / "003_notes.sql").write_text("CREATE TABLE notes (id int PRIMARY KEY);\n")
        applied = _run_py(["apply-sql"], app.env)
        assert applied.returncode == 0, applied.stderr
        assert "applied 003_notes.sql" in applied.stdout
        # apply-sql adopted the server left running and stopped it when done.
        assert not (app.data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()
        assert not (app.data_dir / "postgres" / "running.json").exists()
    finally:
        _stop_app(app)


def test_init_writes_a_first_folder_and_never_overwrites(tmp_path):
    target = tmp_path / "schema"
    done = _run_py(["init", str(target)], _env())
    assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in target.iterdir())
    assert names == ["001_first_table.sql", "002_reload_on_ddl.sql"]
    assert f"SQL_DIR={target} DATA_DIR=.data/schema python run.py" in done.stdout
    first = (target / "001_first_table.sql").read_text()
    assert "-- CREATE TABLE" in first  # an example, commented out
    again = _run_py(["init", str(target)], _env())
    assert again.returncode == 2 and again.stderr.startswith(f"error: {target} is not empty")
    assert (target / "001_first_table.sql").read_text() == first
    by_setting = _run_py(["init"], _env(SQL_DIR=str(tmp_path / "other")))
    assert by_setting.returncode == 0 and (tmp_path / "other" / "002_reload_on_ddl.sql").exists()
    sample = _run_py(["init"], _env())  # SQL_DIR's default: the sample, which is not empty
    assert sample.returncode == 2 and "is not empty" in sample.stderr


def _event_triggers(engine):
    with engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT evtname FROM pg_event_trigger ORDER BY 1")).scalars().all()
        )


def test_the_init_folder_applies_with_and_without_a_superuser(pg_server, tmp_path):
    target = tmp_path / "schema"
    assert _run_py(["init", str(target)], _env()).returncode == 0
    engine = sa.create_engine(pg_server.create_database("pgfront_init"))
    try:
        assert apply_sql_dir(engine, target) == ["001_first_table.sql", "002_reload_on_ddl.sql"]
        assert _event_triggers(engine) == ["pgfront_reload_on_ddl", "pgfront_reload_on_drop"]
    finally:
        engine.dispose()

    owner_url = pg_server.create_database("pgfront_init_owner")
    with sa.create_engine(owner_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text("DROP ROLE IF EXISTS pgfront_init_dba"))
        conn.execute(sa.text("CREATE ROLE pgfront_init_dba LOGIN PASSWORD 'init-dba'"))
        conn.execute(sa.text(f'ALTER DATABASE "{owner_url.database}" OWNER TO pgfront_init_dba'))
    dba = sa.create_engine(owner_url.set(username="pgfront_init_dba", password="init-dba"))
    lines = []
    try:
        assert apply_sql_dir(dba, target, log=lines.append) == [
            "001_first_table.sql",
            "002_reload_on_ddl.sql",
        ]
        assert _event_triggers(dba) == []
        (notice,) = [line for line in lines if line.startswith("002_reload_on_ddl.sql: WARNING: ")]
        assert "not a superuser" in notice and "NOTIFY pgfront" in notice
    finally:
        dba.dispose()
        admin = sa.create_engine(pg_server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{owner_url.database}" WITH (FORCE)'))
            conn.execute(sa.text("DROP ROLE pgfront_init_dba"))
        admin.dispose()


def test_url_and_psql_use_database_url(database_url):
    url = database_url.render_as_string(hide_password=False)
    env = _env(DATABASE_URL=url)
    shown = _run_py(["url"], env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == database_url.set(drivername="postgresql").render_as_string()
    assert database_url.password not in shown.stdout
    full = _run_py(["url", "--show-password"], env)
    assert full.stdout.strip() == database_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    psql = _run_py(["psql", "-At", "-c", "select current_database()"], env)
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip() == database_url.database


def test_psql_gets_the_password_from_its_environment_only(database_url):
    from webapp.app.commands import psql_invocation

    argv, env = psql_invocation(database_url, ["-c", "select 1"])
    assert database_url.password not in " ".join(argv)
    assert env["PGPASSWORD"] == database_url.password
    assert argv[-2:] == ["-c", "select 1"]


def test_help_lists_every_sub_command():
    from run import build_parser

    text = build_parser().format_help()
    for command in ("serve", "apply-sql", "psql", "url", "init", "token", "shell", "flask"):
        line = next(line for line in text.splitlines() if line.strip().startswith(command + " "))
        assert len(line.split(maxsplit=1)) == 2, f"{command} has no help"
