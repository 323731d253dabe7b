"""The serving layer's limits against a real run.py server: body cap, slow clients, header time."""

import contextlib
import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from webapp.app.serving import check_waitress_serve
from webapp.config import load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serving(database_url, log=subprocess.DEVNULL, open_files=None, **settings):
    """run.py serving the sample database on a free port, with these settings; yields its port.

    log: a file for its stderr; open_files: the process's open-file limit (ulimit -n).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SCHEMAS")}
    env.update(
        DATABASE_URL=database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="public,reporting",
        LOG_LEVEL="WARNING",
        **settings,
    )
    command = [sys.executable, "run.py", "--port", "0", "--threads", "2"]
    if open_files:  # a hard limit, which the server cannot raise
        command = ["sh", "-c", f'ulimit -n {open_files} && exec "$@"', "sh", *command]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Serving on http://127.0.0.1:"), line
        yield int(line.split()[2].rstrip("/").rsplit(":", 1)[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _live(port):
    """GET /live: the status and body, or an exception if it does not answer in 30 s."""
    url = f"http://127.0.0.1:{port}/live"
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, json.loads(response.read())


def _slow_connections(port, count):
    """count connections that each sent a request line and no end of headers."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"GET /live HTTP/1.1\r\nHost: slow\r\n")
        connections.append(connection)
    return connections


@pytest.mark.slow
def test_a_body_over_the_cap_is_refused_before_it_is_sent(database_url):
    """A 64 MiB POST to a server capped at 1 MiB is answered 413 long before the body is sent."""
    declared = 64 * 1024 * 1024
    chunk = b"x" * 65536
    with (
        serving(database_url, MAX_BODY_BYTES="1048576") as port,
        socket.create_connection(("127.0.0.1", port), timeout=30) as connection,
    ):
        connection.sendall(
            b"POST /api/branches HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % declared
        )
        sent = 0
        while sent < declared and not select.select([connection], [], [], 0)[0]:
            try:
                connection.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        try:
            answer = connection.recv(65536)
        except ConnectionResetError:
            answer = b"(reset)"
    assert sent < declared, "the server read the whole body before answering"
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


@pytest.mark.slow
def test_slow_header_connections_do_not_starve_live(database_url):
    """110 connections trickling headers (more than waitress's default limit of 100): /live answers."""
    with serving(database_url) as port:
        slow = _slow_connections(port, 110)
        try:
            for connection in slow:  # still sending, one header line at a time
                connection.sendall(b"X-Slow: 1\r\n")
            assert _live(port) == (200, {"status": "alive"})
        finally:
            for connection in slow:
                connection.close()


@pytest.mark.slow
def test_connections_that_never_finish_their_headers_are_closed(database_url):
    """Past HEADER_TIMEOUT the server closes a connection trickling header lines, or silent."""
    with serving(database_url, HEADER_TIMEOUT="1", CONNECTION_LIMIT="20") as port:
        slow = _slow_connections(port, 30)  # more than the server accepts at once
        silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
        try:
            assert _live(port) == (200, {"status": "alive"})
            open_ = {*slow, *silent}
            deadline = time.monotonic() + 30  # a bound, not a measure: it takes about a second
            while open_ and time.monotonic() < deadline:
                for connection in open_.intersection(slow):
                    try:
                        connection.sendall(b"X-Slow: 1\r\n")
                    except OSError:  # a broken pipe or a reset: the server closed it
                        open_.discard(connection)
                for connection in select.select(list(open_), [], [], 0.5)[0]:
                    try:
                        closed = connection.recv(4096) == b""
                    except OSError:
                        closed = True
                    if closed:
                        open_.discard(connection)
            assert not open_, f"{len(open_)} of 35 slow or silent connections are still open"
        finally:
            for connection in [*slow, *silent]:
                connection.close()


def test_waitress_serve_without_the_limits_is_warned_about(caplog):
    """waitress-serve cannot take the limits from the app: a line says which flags to add."""
    settings = load_settings(environ={"MAX_BODY_BYTES": "1000"})
    bare = ["/venv/bin/waitress-serve", "--port=8000", "--call", "webapp:create_app"]
    with caplog.at_level(logging.WARNING, logger="webapp"):
        check_waitress_serve(settings, bare)
    (warning,) = caplog.records
    assert warning.getMessage() == (
        "waitress-serve applies waitress's own limits, not pgfront's: add "
        "--max-request-body-size=1001 --connection-limit=1000 --asyncore-use-poll "
        "(MAX_BODY_BYTES, CONNECTION_LIMIT); HEADER_TIMEOUT applies only under run.py"
    )
    caplog.clear()
    flags = ["--max-request-body-size=1001", "--connection-limit=1000", "--asyncore-use-poll"]
    with caplog.at_level(logging.WARNING, logger="webapp"):
        check_waitress_serve(settings, [*bare[:2], *flags, *bare[2:]])
        check_waitress_serve(settings, ["run.py", "--port", "8000"])
    assert caplog.records == []


@pytest.mark.slow
def test_a_connection_limit_the_open_files_cannot_hold_is_lowered(database_url, tmp_path):
    """ulimit -n 300 cannot hold 1000 connections: one warning, and the server still serves."""
    log = tmp_path / "stderr.log"
    with open(log, "w") as stderr, serving(database_url, log=stderr, open_files=300) as port:
        assert _live(port) == (200, {"status": "alive"})
    warnings = [line for line in log.read_text().splitlines() if "CONNECTION_LIMIT" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        "WARNING webapp: CONNECTION_LIMIT=1000 lowered to 229: this process may open 300 files "
        "(ulimit -n); raise that limit to allow more connections"
    )
