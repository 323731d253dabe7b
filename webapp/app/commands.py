"""What run.py's sub-commands do: serve with waitress, apply sql/ files, psql, url, init."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy.engine import URL
from waitress import create_server, wasyncore

from db.embedded import EmbeddedError, EmbeddedPostgres, psql_program
from db.engine import check_reachable, make_engine, normalize_url
from db.sqlfiles import apply_sql_dir, init_sql_dir

from ..config import EMBEDDED_DATABASE, Settings, load_settings
from ..state import embedded_server, engine_options, start_embedded
from .serving import HeaderDeadline, bind_listener, connection_limit, waitress_limits

log = logging.getLogger("webapp")


def serve(config: dict) -> int:
    """Build the app and serve it with waitress until Ctrl-C or SIGTERM, then drain and stop."""
    from .. import create_app

    settings = load_settings(config)
    listener = bind_listener(settings.host, settings.port)  # before the embedded server, sql/
    try:
        app = create_app(config)
        _refuse_a_borrowed_server(app.extensions["pgfront"])
    except BaseException:
        listener.close()
        raise
    state = app.extensions["pgfront"]
    stopping = _handle_signals(state)
    try:
        server = _waitress_server(app, listener, settings)
    except BaseException:
        listener.close()
        state.close()
        raise
    headers = HeaderDeadline(settings.header_timeout)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"Serving on http://{host}:{server.effective_port}/ with {settings.threads} threads "
        "(Ctrl-C to stop)",
        flush=True,
    )
    try:
        while not stopping.is_set():
            _serve_a_while(server)
            headers.check(server)
        drain(server, settings.shutdown_grace)
    finally:
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(server._map)  # idle keep-alive connections, the listener, the trigger
        state.close()
        print("Stopped.", flush=True)
    return 0


def _handle_signals(state) -> threading.Event:
    """SIGHUP reloads the schema; SIGTERM and Ctrl-C set the event returned (twice: exit now)."""
    signal.signal(signal.SIGHUP, lambda signum, frame: state.request_reload("SIGHUP"))
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        if stopping.is_set():  # a second Ctrl-C or SIGTERM: no more waiting for requests
            raise SystemExit(1)
        stopping.set()

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, stop)
    return stopping


def _waitress_server(app, listener, settings: Settings):
    """waitress on the bound listener, with the limits the settings give it."""
    limits = {name: value for name, value, _ in waitress_limits(settings)}
    limits["connection_limit"] = connection_limit(settings)
    return create_server(
        app, sockets=[listener], threads=settings.threads, ident="pgfront", **limits
    )


def _refuse_a_borrowed_server(state) -> None:
    """A second app on one DATA_DIR would lose its database when the first stops: refuse it."""
    embedded = state.embedded
    if embedded is not None and embedded.owner_pid is not None:
        state.close()
        raise EmbeddedError(embedded.in_use(embedded.owner_pid))


def _serve_a_while(server, seconds: float = 0.2) -> None:
    """One turn of waitress's event loop: short, so a stop request is seen at once."""
    wasyncore.loop(timeout=seconds, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)


def drain(server, grace: float) -> None:
    """Stop accepting, then keep serving until the requests in flight are answered (or grace ends)."""
    server.accepting = False
    server.del_channel()  # out of the event loop: new connections are refused
    server.socket.close()
    deadline = time.monotonic() + grace
    while _busy(server) and time.monotonic() < deadline:
        _serve_a_while(server, 0.05)
    if _busy(server):
        log.warning("stopping with requests still in flight after %.0f s", grace)


def _busy(server) -> bool:
    """True while a connection has a request being served or a response not yet sent."""
    return any(
        channel.requests or channel.total_outbufs_len
        for channel in list(server.active_channels.values())
    )


def dba_url(settings: Settings) -> tuple[URL, EmbeddedPostgres | None]:
    """The owner's connection (apply-sql, psql): DATABASE_URL, else the embedded server.

    The embedded one is the running app's when an app runs, else started for this command.
    """
    if settings.database_url is not None:
        return normalize_url(settings.database_url), None
    embedded = start_embedded(settings)
    return embedded.url(EMBEDDED_DATABASE), embedded


def apply_sql(settings: Settings) -> int:
    """Apply the sql/ files that the database's ledger does not list yet; running apps reload."""
    url, embedded = dba_url(settings)
    if embedded is not None and embedded.owner_pid is not None:
        print(
            f"applying to the embedded PostgreSQL that process {embedded.owner_pid} runs "
            f"(port {embedded.port})",
            flush=True,
        )
    engine = make_engine(url, engine_options(settings))
    try:
        check_reachable(engine)
        applied = apply_sql_dir(
            engine,
            settings.sql_dir,
            log=lambda line: print(line, flush=True),
            reload_channel=settings.reload_channel,
        )
    finally:
        engine.dispose()
    if not applied:
        print(
            f"nothing to apply: every file in {settings.sql_dir} is already applied",
            file=sys.stdout,
        )
    return 0


def url(settings: Settings, show_password: bool) -> int:
    """Print the owner's connection URL (the running embedded server's, or DATABASE_URL)."""
    if settings.database_url is not None:
        found = normalize_url(settings.database_url)
    else:
        embedded = embedded_server(settings)
        try:
            embedded.attach()
        except EmbeddedError as exc:
            raise EmbeddedError(
                f"{exc}: start the app (python run.py) and ask again; "
                "python run.py psql starts it for its own session"
            ) from None
        found = embedded.url(EMBEDDED_DATABASE)
    print(found.set(drivername="postgresql").render_as_string(hide_password=not show_password))
    return 0


def psql(settings: Settings, args: list[str]) -> int:
    """Run psql on the owner's connection with args passed through; psql's exit status."""
    argv, env = psql_invocation(dba_url(settings)[0], args)
    # Ctrl-C belongs to psql (it cancels the query); a Python handler is not inherited by it.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return subprocess.run(argv, env=env, check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def psql_invocation(url: URL, args: list[str]) -> tuple[list[str], dict[str, str]]:
    """psql's command line and environment: the password goes in PGPASSWORD, never in argv."""
    without_password = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    )
    conninfo = without_password.render_as_string()
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return [psql_program(), f"--dbname={conninfo}", *args], env


def init(settings: Settings, directory: Path | None) -> int:
    """Write a new sql/ folder (an example table, the reload trigger) and say how to serve it."""
    target = directory or settings.sql_dir
    written = init_sql_dir(target, settings.reload_channel or "pgfront")
    print(f"wrote {', '.join(str(path) for path in written)}")
    print(
        f"next: write your first table in {written[0].name} (before the first start: applied "
        "files never change), then serve it on a new embedded database:\n"
        f"  SQL_DIR={target} DATA_DIR=.data/{target.name} python run.py"
    )
    return 0


def token(settings: Settings, role: str, claims: list[str], expires_in: int) -> int:
    """Print a development token; ValueError (one line, exit 2) without JWT_SECRET or with bad claims."""
    from .auth import make_token

    parsed = {}
    for claim in claims:
        name, equals, value = claim.partition("=")
        if not equals or not name:
            raise ValueError(f"--claim {claim!r} must be NAME=VALUE")
        parsed[name] = int(value) if value.lstrip("-").isdigit() else value
    print(make_token(settings, role, parsed, expires_in))
    return 0
