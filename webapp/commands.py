"""What run.py's sub-commands do: serve with waitress, apply sql/ files."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from waitress import create_server, wasyncore

from db.engine import check_reachable, make_engine
from db.sqlfiles import apply_sql_dir

from .config import EMBEDDED_DATABASE, Settings, load_settings
from .serving import HeaderDeadline, bind_listener, connection_limit, waitress_limits
from .state import engine_options, start_embedded

log = logging.getLogger("webapp")


def serve(config: dict) -> int:
    """Build the app and serve it with waitress until Ctrl-C or SIGTERM, then drain and stop."""
    from . import create_app

    settings = load_settings(config)
    listener = bind_listener(settings.host, settings.port)  # before the embedded server, sql/
    try:
        app = create_app(config)
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


def apply_sql(settings: Settings) -> int:
    """Apply the sql/ files that the database's ledger does not list yet."""
    url = settings.database_url
    if url is None:
        url = start_embedded(settings).url(EMBEDDED_DATABASE)
    engine = make_engine(url, engine_options(settings))
    try:
        check_reachable(engine)
        applied = apply_sql_dir(engine, settings.sql_dir, log=lambda line: print(line, flush=True))
    finally:
        engine.dispose()
    if not applied:
        print(
            f"nothing to apply: every file in {settings.sql_dir} is already applied",
            file=sys.stdout,
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
