"""What one app holds: settings, its databases (engine, catalog holder, reloader), the embedded server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy import orm
from sqlalchemy.engine import URL, Engine

from db.catalog import Catalog, CatalogHolder, NotInCatalog, reflect_catalog
from db.embedded import EmbeddedPostgres
from db.engine import DatabaseUnreachable, EngineOptions, check_reachable, make_engine
from db.models import Models
from db.reload import Reloader
from db.roles import RoleCheck, check_role
from db.session import session_scope
from db.sqlfiles import apply_sql_dir

from .config import EMBEDDED_DATABASE, PRIMARY_DATABASE, ConfigError, Settings

log = logging.getLogger("webapp")


@dataclass
class Database:
    """One served database: its engine, reflected catalog, reloader, and what it serves."""

    name: str
    engine: Engine
    catalogs: CatalogHolder
    reloader: Reloader
    schemas: tuple[str, ...]
    hidden: tuple[str, ...] = ()
    # What a request's Session on it is made with; tests bind it to an outer transaction instead.
    session_options: dict = field(default_factory=dict)
    _timezones: frozenset[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.session_options.setdefault("bind", self.engine)
        # Same pool; its transactions start with BEGIN READ ONLY (no extra round trip).
        self.read_only_engine = self.engine.execution_options(postgresql_readonly=True)

    @property
    def is_primary(self) -> bool:
        """True for DATABASE_URL's database, served at the root rather than under /db/<name>/."""
        return self.name == PRIMARY_DATABASE

    @property
    def catalog(self) -> Catalog:
        """The latest catalog snapshot (a request keeps one from start to end: current_catalog())."""
        return self.catalogs.current

    def timezone_names(self) -> frozenset[str]:
        """The zones `Prefer: timezone=` may name (pg_timezone_names), read once, as PostgREST does."""
        if self._timezones is None:
            with self.engine.connect() as conn:
                names = conn.execute(sa.text("SELECT name FROM pg_timezone_names")).scalars()
                self._timezones = frozenset(names)
        return self._timezones

    def models(self) -> Models:
        """Automap classes of its latest snapshot, named as current_models() names them."""
        return self.catalog.models(current_app.config.get("MODEL_NAMING"))

    def session(self, **options) -> AbstractContextManager[orm.Session]:
        """A session of its own on this database, closed at the end of the block (session_scope)."""
        return session_scope(**{**self.session_options, **options})

    def close(self) -> None:
        """Stop the reload threads and close the pool (once, never per request)."""
        self.reloader.stop()
        self.engine.dispose()


def _of_primary(name: str) -> property:
    """An attribute of AppState that is the primary database's."""
    return property(
        lambda self: getattr(self.primary, name),
        lambda self, value: setattr(self.primary, name, value),
        doc=f"The primary database's {name}.",
    )


@dataclass
class AppState:
    """The long-lived objects of one app, created once in create_app."""

    settings: Settings
    primary: Database
    databases: dict[str, Database] = field(default_factory=dict)  # DATABASES, by name
    embedded: EmbeddedPostgres | None = None

    engine = _of_primary("engine")
    catalogs = _of_primary("catalogs")
    reloader = _of_primary("reloader")
    session_options = _of_primary("session_options")

    def __post_init__(self):
        # Streaming exports hold a connection each: a few at once leave the pools to requests.
        self.export_slots = threading.BoundedSemaphore(self.settings.export_concurrency)
        # API reads holding many embedded rows: a few at once keep the process's memory bounded.
        self.embed_turns = threading.BoundedSemaphore(self.settings.embed_concurrency)

    @property
    def every_database(self) -> list[Database]:
        """The primary database, then the named ones."""
        return [self.primary, *self.databases.values()]

    def database(self, name: str | None) -> Database:
        """The database of that name (None or "main": the primary); LookupError if none."""
        if name is None or name == PRIMARY_DATABASE:
            return self.primary
        try:
            return self.databases[name]
        except KeyError:
            served = ", ".join(db.name for db in self.every_database)
            raise LookupError(f"no database is named {name!r} (served: {served})") from None

    def request_reload(self, reason: str) -> None:
        """Ask every database for a catalog reload (SIGHUP)."""
        for database in self.every_database:
            database.reloader.request_reload(reason)

    def close(self) -> None:
        """At shutdown: stop every reload thread, then close every pool."""
        _close(self.every_database)


def _close(databases: list[Database]) -> None:
    """Tell every reload thread to stop first, so they wind down together; then close each."""
    for database in databases:
        database.reloader.stop(wait=False)
    for database in databases:
        database.close()


def open_state(settings: Settings, *, as_owner: bool = False) -> AppState:
    """Start the embedded server if asked, then open the primary database and the named ones.

    as_owner: on the embedded server, connect as its superuser rather than the app's login
    role (the operator's own commands: run.py shell and flask).
    """
    embedded = None
    opened: list[Database] = []
    try:
        url = settings.database_url
        if url is None:
            embedded = start_embedded(settings)
            url = prepare_embedded(embedded, settings, as_owner=as_owner)
        # The operator's commands, and a command on another app's server, need no warning.
        quiet = as_owner or (embedded is not None and embedded.owner_pid is not None)
        opened.append(
            open_database(
                PRIMARY_DATABASE, url, settings.schemas, settings.hidden, settings, warn=not quiet
            )
        )
        for named in settings.databases.values():
            opened.append(
                open_database(named.name, named.url, named.schemas, named.hidden, settings)
            )
        problems = dangling_settings(settings, opened)
        if problems:  # at startup every entry must name what it hides
            raise ConfigError("; ".join(problem.problem for problem in problems))
    except BaseException:
        _close(opened)  # no reload thread or pool outlives a failed start
        if embedded is not None:
            embedded.stop()  # nor the embedded server, nor its folder's lock
        raise
    primary, *others = opened
    state = AppState(settings, primary, {database.name: database for database in others}, embedded)
    for database in state.every_database:
        database.reloader.check = _reload_check(state, database)
    return state


@dataclass(frozen=True)
class Dangling:
    """A HIDDEN or LABEL_COLUMNS entry that names nothing now, or no longer only what it hid."""

    setting: str
    database: str | None  # None for LABEL_COLUMNS, which every database shares
    problem: str  # one line: the entry as configured and what is wrong with it
    effect: str | None = None  # what is hidden for it meanwhile

    @property
    def line(self) -> str:
        """The problem and its effect, as logged and as /ready shows them."""
        return self.problem + (f"; {self.effect}" if self.effect else "")


def dangling_settings(settings: Settings, databases: list[Database]) -> list[Dangling]:
    """The HIDDEN entries of each database, and the LABEL_COLUMNS entries, that dangle now."""
    found = []
    for database in databases:
        prefix = "" if database.is_primary else f"{database.name}:"
        found += [
            Dangling("HIDDEN", database.name, f"HIDDEN={prefix}{e.name} {e.problem}", e.effect)
            for e in database.catalog.hiding.dangling
        ]
    catalogs = [database.catalog for database in databases]
    for (schema, table), column in settings.label_columns.items():
        if not any(_serves(catalog, schema, table, column) for catalog in catalogs):
            problem = f"no served relation {schema}.{table} has a column {column}"
            found.append(
                Dangling(
                    "LABEL_COLUMNS",
                    None,
                    f"LABEL_COLUMNS={schema}.{table}.{column} names nothing: {problem}",
                )
            )
    return found


def _serves(catalog: Catalog, schema: str, table: str, column: str) -> bool:
    """True when the catalog serves that column of that relation."""
    try:
        catalog.relation(table, schema).column(column)
    except NotInCatalog:
        return False
    return True


def _reload_check(state: AppState, database: Database) -> Callable[[], list[str]]:
    """What a reload of database logs: its dangling HIDDEN entries and the LABEL_COLUMNS ones."""

    def check() -> list[str]:
        found = dangling_settings(state.settings, state.every_database)
        return [problem.line for problem in found if problem.database in (database.name, None)]

    return check


def open_database(
    name: str,
    url: str | URL,
    schemas: tuple[str, ...],
    hidden: tuple[str, ...],
    settings: Settings,
    *,
    warn: bool = True,
) -> Database:
    """Create a database's engine, check it and its login role, reflect, start its reloader.

    warn: log a warning when requests would run as a superuser (warn_if_superuser).
    """
    engine = make_engine(url, engine_options(settings))
    primary = name == PRIMARY_DATABASE
    try:
        try:
            check_reachable(engine)
        except DatabaseUnreachable as exc:
            if primary:
                raise
            raise DatabaseUnreachable(f"DATABASES {name}: {exc}") from exc
        where = "" if primary else f"DATABASES {name}: "
        login = check_login_role(engine, settings.anon_role, where)
        require_schemas(engine, schemas, "DB_SCHEMAS" if primary else f"DATABASES {name}")
        catalog = reflect_catalog(engine, schemas, hidden)
        log.info(
            "%sreflected %d relations from schemas %s in %.2fs",
            "" if primary else f"database {name}: ",
            len(catalog.relations),
            ", ".join(schemas),
            catalog.load_seconds,
        )
        holder = CatalogHolder(catalog)
        reloader = Reloader(
            engine,
            schemas,
            holder,
            channel=settings.reload_channel,
            hidden=hidden,
            application_name=f"{settings.application_name}-listen",
        )
        reloader.start()
    except BaseException:
        engine.dispose()
        raise
    if warn:
        warn_if_superuser(login, where)
    return Database(name, engine, holder, reloader, tuple(schemas), tuple(hidden))


def check_login_role(engine: Engine, anon_role: str | None, where: str = "") -> RoleCheck:
    """Who the engine logs in as; stop startup when it cannot switch to DB_ANON_ROLE."""
    check = check_role(engine, anon_role)
    problem = check.describe()
    if problem is not None:
        raise ConfigError(f"DB_ANON_ROLE={anon_role}: {where}{problem}")
    return check


def warn_if_superuser(login: RoleCheck, where: str = "") -> None:
    """Log a warning when requests run as a superuser: the login is one and DB_ANON_ROLE is unset."""
    if login.login_is_superuser and login.role is None:
        log.warning(
            "%sserving as the superuser %s with no DB_ANON_ROLE: every request may read and "
            "change everything, past row-level security. Connect as a login role that is not a "
            "superuser and set DB_ANON_ROLE to a role with only the grants requests need",
            where,
            login.login,
        )


def require_schemas(engine: Engine, schemas: tuple[str, ...], setting: str = "DB_SCHEMAS") -> None:
    """Fail at startup when the setting names a schema the database lacks or the login cannot use."""
    with engine.connect() as conn:
        found = dict(
            conn.execute(
                sa.text(
                    "SELECT nspname, has_schema_privilege(oid, 'USAGE') FROM pg_namespace"
                    " WHERE nspname = ANY(:names)"
                ),
                {"names": list(schemas)},
            ).all()
        )
        login = conn.execute(sa.text("SELECT current_user")).scalar()
    missing = [name for name in schemas if name not in found]
    if missing:
        raise ConfigError(
            f"{setting} names schemas the database does not have: {', '.join(missing)}"
        )
    # Reflection looks names up in each schema as the login role (a NOINHERIT one has no grants).
    unusable = [name for name in schemas if not found[name]]
    if unusable:
        names = ", ".join(unusable)
        raise ConfigError(
            f"{setting}: the login role {login} may not look into schemas {names}: "
            f"GRANT USAGE ON SCHEMA {names} TO {login}"
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


def prepare_embedded(
    embedded: EmbeddedPostgres, settings: Settings, *, as_owner: bool = False
) -> URL:
    """Apply sql/ as the superuser (it owns the schema), then the URL to serve through.

    That is the login role authenticator, which is not a superuser, unless asked for the owner
    or DB_ANON_ROLE is unset (no role switch: then the superuser, warned about).
    """
    owner = embedded.url(EMBEDDED_DATABASE)
    engine = make_engine(owner, engine_options(settings))
    try:
        # A command using a running app's server tells that app when it applies files.
        applied = apply_sql_dir(
            engine, settings.sql_dir, log=log.info, reload_channel=settings.reload_channel
        )
    finally:
        engine.dispose()
    if applied:
        log.info("embedded database: applied %d sql/ file(s)", len(applied))
    if as_owner or settings.anon_role is None:
        return owner
    embedded.ensure_login_role()
    return embedded.app_url(EMBEDDED_DATABASE)


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server of DATA_DIR, not started."""
    return EmbeddedPostgres(settings.data_dir / "postgres")


def start_embedded(settings: Settings) -> EmbeddedPostgres:
    """Start the embedded server in DATA_DIR, or use the one a running app serves from it.

    A server this process started stops when the process exits; one it attached to keeps
    running with the app that owns it.
    """
    embedded = embedded_server(settings)
    try:
        embedded.start(attach=True)
    except OSError as exc:
        raise ConfigError(f"DATA_DIR={settings.data_dir}: {exc.strerror or exc}") from None
    if embedded.owner_pid is not None:
        log.debug(
            "using the embedded PostgreSQL that process %d runs (port %d)",
            embedded.owner_pid,
            embedded.port,
        )
    embedded.stop_at_exit()
    if embedded.ensure_database(EMBEDDED_DATABASE):
        log.info("embedded database %r created in %s", EMBEDDED_DATABASE, embedded.folder)
    return embedded


def app_state() -> AppState:
    """The state of the app handling the current request or command."""
    return current_app.extensions["pgfront"]


def current_database() -> Database:
    """The database of this request: the one its /db/<name>/ path names, else the primary."""
    return app_state().database(g.get("database_name"))


def current_catalog() -> Catalog:
    """The catalog snapshot of this request: the same one from its start to its end."""
    if "catalog" not in g:
        g.catalog = current_database().catalogs.current
    return g.catalog
