"""What run.py's sub-commands do: serve with waitress, apply sql/ files."""

from __future__ import annotations

import logging
import signal
import sys

from db.engine import check_reachable, make_engine
from db.sqlfiles import apply_sql_dir

from .config import EMBEDDED_DATABASE, Settings
from .state import engine_options, start_embedded

log = logging.getLogger("webapp")


def serve(config: dict) -> int:
    """Build the app and serve it with waitress until Ctrl-C or SIGTERM."""
    import waitress

    from . import create_app

    app = create_app(config)
    state = app.extensions["pgfront"]
    settings = state.settings
    signal.signal(signal.SIGHUP, lambda signum, frame: state.reloader.request_reload("SIGHUP"))
    server = waitress.create_server(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        ident="pgfront",
    )
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"Serving on http://{host}:{server.effective_port}/ with {settings.threads} threads "
        "(Ctrl-C to stop)",
        flush=True,
    )
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        state.close()
        print("Stopped.", flush=True)
    return 0


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
