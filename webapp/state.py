"""What one app holds: settings, the engine, the catalog holder, the embedded server."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.engine import Engine

from db.catalog import Catalog, CatalogHolder, reflect_catalog
from db.embedded import EmbeddedPostgres
from db.engine import EngineOptions, check_reachable, make_engine
from db.reload import Reloader
from db.sqlfiles import apply_sql_dir

from .config import EMBEDDED_DATABASE, ConfigError, Settings

log = logging.getLogger("webapp")


@dataclass
class AppState:
    """The long-lived objects of one app, created once in create_app."""

    settings: Settings
    engine: Engine
    catalogs: CatalogHolder
    reloader: Reloader
    embedded: EmbeddedPostgres | None = None
    # What each request's Session is made with; tests bind it to an outer transaction instead.
    session_options: dict = field(default_factory=dict)

    def __post_init__(self):
        self.session_options.setdefault("bind", self.engine)
        # Same pool; its transactions start with BEGIN READ ONLY (no extra round trip).
        self.read_only_engine = self.engine.execution_options(postgresql_readonly=True)
        # Streaming exports hold a connection each: a few at once leave the pool to requests.
        self.export_slots = threading.BoundedSemaphore(self.settings.export_concurrency)

    def close(self) -> None:
        """At shutdown: stop the reload threads and close the pool (once, never per request)."""
        self.reloader.stop()
        self.engine.dispose()


def open_state(settings: Settings) -> AppState:
    """Start the embedded server if asked, create the engine, check it, reflect the catalog."""
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = start_embedded(settings)
        url = embedded.url(EMBEDDED_DATABASE)
    engine = make_engine(url, engine_options(settings))
    check_reachable(engine)
    if embedded is not None:
        applied = apply_sql_dir(engine, settings.sql_dir, log=log.info)
        if applied:
            log.info("embedded database: applied %d sql/ file(s)", len(applied))
    require_schemas(engine, settings.schemas)
    catalog = reflect_catalog(engine, settings.schemas, settings.hidden)
    log.info(
        "reflected %d relations from schemas %s in %.2fs",
        len(catalog.relations),
        ", ".join(settings.schemas),
        catalog.load_seconds,
    )
    holder = CatalogHolder(catalog)
    reloader = Reloader(
        engine, settings.schemas, holder, channel=settings.reload_channel, hidden=settings.hidden
    )
    reloader.start()
    return AppState(settings, engine, holder, reloader, embedded)


def require_schemas(engine: Engine, schemas: tuple[str, ...]) -> None:
    """Fail at startup when DB_SCHEMAS names a schema the database does not have."""
    with engine.connect() as conn:
        found = set(
            conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname = ANY(:names)"),
                {"names": list(schemas)},
            ).scalars()
        )
    missing = [name for name in schemas if name not in found]
    if missing:
        raise ConfigError(
            f"DB_SCHEMAS names schemas the database does not have: {', '.join(missing)}"
        )


def engine_options(settings: Settings) -> EngineOptions:
    """The engine options the settings ask for."""
    return EngineOptions(
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        connect_timeout=settings.connect_timeout,
        statement_timeout_ms=settings.statement_timeout_ms,
        idle_in_transaction_timeout_ms=settings.idle_tx_timeout_ms,
        application_name=settings.application_name,
    )


def start_embedded(settings: Settings) -> EmbeddedPostgres:
    """Start (or reuse) the embedded server in DATA_DIR; it stops when the process exits."""
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    try:
        embedded.start()
    except OSError as exc:
        raise ConfigError(f"DATA_DIR={settings.data_dir}: {exc.strerror or exc}") from None
    embedded.stop_at_exit()
    if embedded.ensure_database(EMBEDDED_DATABASE):
        log.info("embedded database %r created in %s", EMBEDDED_DATABASE, embedded.folder)
    return embedded


def app_state() -> AppState:
    """The state of the app handling the current request or command."""
    return current_app.extensions["pgfront"]


def current_catalog() -> Catalog:
    """The catalog snapshot of this request: the same one from its start to its end."""
    if "catalog" not in g:
        g.catalog = app_state().catalogs.current
    return g.catalog
