"""run.py as a user runs it: a real waitress server in a subprocess, and one-line errors."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from documentation import DOCS

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SCHEMAS")}
    env.update(extra)
    return env


def _run(*args, **env):
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=PROJECT_DIR,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serves_the_embedded_default_and_stops_cleanly(tmp_path, stop_signal):
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "run.py", "--port", "0", "--threads", "4"],
        cwd=PROJECT_DIR,
        env=_env(DATA_DIR=str(data_dir), LOG_LEVEL="WARNING"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving on http://127.0.0.1:"), line + process.stderr.read()
        base = line.split()[2]
        status, _, body = _get(base + "ready")
        assert status == 200 and json.loads(body)["status"] == "ready"
        status, headers, body = _get(base + "api/branches?order=id&limit=2")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert [row["name"] for row in json.loads(body)] == ["Central", "Riverside"]
        status, headers, body = _get(base)
        assert status == 200 and b"loan_events" in body
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "Traceback" not in err
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()


@pytest.mark.slow
def test_the_readme_waitress_serve_form_logs_as_run_py_does(database_url, tmp_path):
    """The README's waitress-serve line serves (team views too), logs startup and requests,
    and warns of nothing."""
    (command,) = re.findall(r"^waitress-serve .*$", DOCS, flags=re.M)
    assert "--listen=127.0.0.1:8000" in command and "--max-request-body-size=" in command
    args = shlex.split(command.replace("--listen=127.0.0.1:8000", "--listen=127.0.0.1:0"))
    team = tmp_path / "myteam"  # team views of another package, named by BLUEPRINTS
    team.mkdir()
    (team / "__init__.py").write_text("")
    (team / "hello.py").write_text(
        "from flask import Blueprint\n"
        "bp = Blueprint('hello', __name__)\n"
        "bp.get('/hello')(lambda: {'hello': 'team'})\n"
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("waitress-serve")), *args[1:]],
        cwd=PROJECT_DIR,
        env=_env(
            DATABASE_URL=database_url.render_as_string(hide_password=False),
            DB_SCHEMAS="public,reporting",
            DB_ANON_ROLE="librarian",  # no superuser serves (that is warned about); staff may
            PYTHONPATH=str(tmp_path),  # read what the team view reads
            BLUEPRINTS="myteam.hello:bp",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        while not lines or "Serving on http" not in lines[-1]:
            lines.append(process.stdout.readline())
            assert lines[-1], "waitress-serve exited before serving:\n" + "".join(lines)
        base = lines[-1].split("Serving on ")[1].strip().rstrip("/") + "/"
        status, _, body = _get(base + "api/branches?name=eq.Harbour")
        assert status == 200 and [row["name"] for row in json.loads(body)] == ["Harbour"]
        assert json.loads(_get(base + "hello")[2]) == {"hello": "team"}
        assert _get(base + "team/branches")[0] == 200  # and webapp/views/'s
    finally:
        process.terminate()
        process.wait(timeout=30)
    out = "".join(lines) + process.stdout.read()
    assert re.search(r"^\S+ \S+ INFO webapp: reflected 20 relations", out, re.M), out
    assert re.search(
        r"^\S+ \S+ INFO webapp\.requests: \w+ GET /api/branches\?name=eq\.Harbour 200 ", out, re.M
    ), out
    assert "WARNING" not in out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--threads", "zero"],
            {},
            "error: THREADS='zero' must be a whole number above 0, e.g. 8\n",
        ),
        (
            [],
            {"PORT": "99999"},
            "error: PORT='99999' must be a whole number from 0 to 65535, e.g. 8000\n",
        ),
        (
            [],
            {"LOG_LEVEL": "x"},
            "error: LOG_LEVEL='x' must be DEBUG, INFO, WARNING or ERROR, e.g. INFO\n",
        ),
        (
            [],  # a team view is imported before anything starts or connects
            {"BLUEPRINTS": "nosuch_team.reports:bp"},
            "error: BLUEPRINTS entry 'nosuch_team.reports:bp' does not import: "
            "ModuleNotFoundError: No module named 'nosuch_team'\n",
        ),
        (
            [],
            {"DATABASE_URL": "mysql://u:pw@h/d"},
            "error: DATABASE_URL=(hidden) is not a postgresql://user:password@host:port/dbname URL\n",
        ),
    ],
)
def test_bad_settings_give_one_line(args, env, message):
    result = _run(*args, **env)
    assert result.returncode == 2
    assert result.stderr == message


def test_a_port_in_use_gives_one_line_before_anything_starts(tmp_path):
    """Another program on the port: one line, exit 2, and no embedded server or sql/ applied."""
    import socket

    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("--port", str(port), DATA_DIR=str(data_dir))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: PORT={port} is in use on 127.0.0.1: another program listens there; "
        "stop it or choose another port, e.g. --port 0 for any free one\n"
    )
    assert not data_dir.exists(), "the embedded server started before the port was checked"


def test_unreachable_database_gives_one_line():
    result = _run(DATABASE_URL="postgresql://nobody:secret@127.0.0.1:1/nothing")
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot connect to the database at postgresql")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_apply_sql_command(pg_server, tmp_path):
    url = pg_server.create_database("pgfront_cli").render_as_string(hide_password=False)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "001_t.sql").write_text("CREATE TABLE t (x int);")
    first = _run("apply-sql", DATABASE_URL=url, SQL_DIR=str(sql_dir))
    assert first.returncode == 0 and "applied 001_t.sql" in first.stdout
    again = _run("apply-sql", DATABASE_URL=url, SQL_DIR=str(sql_dir))
    assert again.returncode == 0 and "nothing to apply" in again.stdout
    (sql_dir / "001_t.sql").write_text("CREATE TABLE t (x int, y int);")
    changed = _run("apply-sql", DATABASE_URL=url, SQL_DIR=str(sql_dir))
    assert changed.returncode == 2
    assert changed.stderr.startswith("error: 001_t.sql was applied on")
    assert changed.stderr.count("\n") == 1


def test_missing_schema_gives_one_line(database_url):
    url = database_url.render_as_string(hide_password=False)
    result = _run(DATABASE_URL=url, DB_SCHEMAS="public,nowhere")
    assert result.returncode == 2
    assert result.stderr == "error: DB_SCHEMAS names schemas the database does not have: nowhere\n"


@pytest.mark.slow
def test_sighup_reloads_the_schema(database_url):
    process = subprocess.Popen(
        [sys.executable, "run.py", "--port", "0", "--threads", "2"],
        cwd=PROJECT_DIR,
        env=_env(
            DATABASE_URL=database_url.render_as_string(hide_password=False),
            DB_SCHEMAS="public,reporting",
            LOG_LEVEL="WARNING",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        base = line.split()[2]
        process.send_signal(signal.SIGHUP)
        reason = None
        for _ in range(100):
            body = json.loads(_get(base + "ready")[2])
            reason = (body["last_reload"] or {}).get("reason")
            if reason:
                break
            time.sleep(0.1)
        assert reason == "SIGHUP"
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0


@pytest.mark.slow
def test_sigterm_finishes_the_requests_in_flight(database_url, tmp_path):
    """SIGTERM: new connections are refused, a request already running still gets its answer."""
    import socket
    import threading

    import psycopg

    conninfo = database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "run.py", "--port", "0", "--threads", "2"],
            cwd=PROJECT_DIR,
            env=_env(DATABASE_URL=conninfo, DB_SCHEMAS="public", DB_APPLICATION_NAME="drain-test"),
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
    answers = []
    try:
        base = process.stdout.readline().split()[2]
        port = int(base.rstrip("/").rsplit(":", 1)[1])
        with psycopg.connect(conninfo) as locker:
            # Hold a lock the request must wait for: it is in flight until we let go.
            locker.execute("LOCK TABLE public.branches IN ACCESS EXCLUSIVE MODE")
            request = threading.Thread(
                target=lambda: answers.append(_get(base + "api/branches?select=name&order=id"))
            )
            request.start()
            for _ in range(100):
                waiting = locker.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'drain-test' AND wait_event_type = 'Lock'"
                ).fetchone()[0]
                if waiting:
                    break
                time.sleep(0.1)
            assert waiting == 1, "the request should be waiting on the lock"
            process.send_signal(signal.SIGTERM)
            for _ in range(50):  # the listener closes at once
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except ConnectionRefusedError:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the server still accepts connections after SIGTERM")
            assert process.poll() is None, "the server waits for the request in flight"
        # The lock is released here: the request finishes and the server stops.
        request.join(timeout=30)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    status, _, body = answers[0]
    assert status == 200 and json.loads(body)[0] == {"name": "Central"}
    assert process.returncode == 0 and "Stopped." in out
    assert "Traceback" not in log.read_text()


def test_a_host_with_several_addresses_is_refused():
    from waitress.adjustments import Adjustments

    from webapp.app.serving import one_address

    # What waitress reads from a host with two addresses (localhost: 127.0.0.1 and ::1).
    addresses = Adjustments(listen="127.0.0.1:0 127.0.0.2:0").listen
    with pytest.raises(ValueError, match="HOST=localhost resolves to several addresses"):
        one_address(addresses, "localhost")
