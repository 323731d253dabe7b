"""Applying the DBA's numbered sql/ files, each once, with a checksum ledger."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .engine import first_line
from .reload import RELOAD_PAYLOAD

LEDGER_SCHEMA = "pgfront"
LEDGER_TABLE = "applied_sql_files"
_NUMBERED = re.compile(r"^\d+.*\.sql$")
# A transaction statement on a line of its own (plpgsql's BEGIN has no semicolon).
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|ABORT)\s*(WORK|TRANSACTION)?\s*;",
    re.IGNORECASE,
)
# An arbitrary constant: only one process applies sql/ to a database at a time.
_ADVISORY_LOCK_ID = 7_361_204_117

_LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS pgfront;
CREATE TABLE IF NOT EXISTS pgfront.applied_sql_files (
    filename    text PRIMARY KEY,
    sha256      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
);
COMMENT ON TABLE pgfront.applied_sql_files IS
    'sql/ files applied by "python run.py apply-sql", with the checksum each had when applied';
"""


_ledger = sa.Table(
    LEDGER_TABLE,
    sa.MetaData(),
    sa.Column("filename", sa.Text, primary_key=True),
    sa.Column("sha256", sa.Text),
    sa.Column("applied_at", sa.DateTime(timezone=True)),
    sa.Column("duration_ms", sa.Integer),
    schema=LEDGER_SCHEMA,
)


class SqlFileChanged(Exception):
    """A file that was already applied has different content now."""


class SqlFileFailed(Exception):
    """A file raised an error; its transaction was rolled back, so nothing of it was applied."""


@dataclass(frozen=True)
class SqlFile:
    """One numbered .sql file and the checksum of its content."""

    path: Path
    text: str
    sha256: str

    @property
    def name(self) -> str:
        """The file name, which is also its key in the ledger."""
        return self.path.name


def read_sql_dir(directory: Path) -> list[SqlFile]:
    """The numbered .sql files of a directory, in name order."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no sql/ directory at {directory}")
    files = []
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.is_file() and _NUMBERED.match(path.name):
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SqlFileFailed(
                    f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
                ) from None
            files.append(SqlFile(path, text, hashlib.sha256(raw).hexdigest()))
    return files


def apply_sql_dir(
    engine: Engine,
    directory: Path,
    log: Callable[[str], None] = lambda line: None,
    *,
    reload_channel: str | None = None,
    progress_every: float = 5.0,
) -> list[str]:
    """Apply the files not yet in the ledger, each in its own transaction; return their names.

    Raises SqlFileChanged, before applying anything, when applied files were edited since,
    and SqlFileFailed for a file that fails (that file and the ones after it are not applied).
    Each file is announced before it runs and timed after, with a "still running" line every
    progress_every seconds. When files were applied and reload_channel is given, running
    apps listening on it are told to reload.
    """
    files = read_sql_dir(directory)
    for sql_file in files:
        _refuse_transaction_control(sql_file)
    applied_names: list[str] = []
    with engine.connect() as conn:
        _take_lock(conn)
        try:
            ledger = _read_ledger(conn)
            _refuse_changed(files, ledger)
            _note_unknown(files, ledger, directory, log)
            last_applied = max(ledger, default="")
            for sql_file in files:
                if sql_file.name in ledger:
                    continue
                if sql_file.name < last_applied:
                    log(
                        f"note: {sql_file.name} sorts before {last_applied}, which is already "
                        "applied; it is applied now, after it"
                    )
                log(f"applying {sql_file.name} ...")
                with _still_running(sql_file.name, log, progress_every):
                    seconds = _apply_one(conn, sql_file, log)
                applied_names.append(sql_file.name)
                log(f"applied {sql_file.name} in {seconds:.2f} s")
        finally:
            if applied_names and reload_channel:
                _notify_reload(conn, reload_channel)
            _release_lock(conn)
    return applied_names


@contextmanager
def _still_running(name: str, log: Callable[[str], None], every: float) -> Iterator[None]:
    """While the block runs, log "still running: <name> (<n> s)" every `every` seconds."""
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            log(f"still running: {name} ({time.monotonic() - started:.0f} s)")

    ticker = threading.Thread(target=tick, name="pgfront-sql-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


def _notify_reload(conn: sa.Connection, channel: str) -> None:
    """Tell the apps listening on channel to reload their catalog (as the DDL event trigger does)."""
    conn.rollback()  # a failed file leaves nothing to keep; the files before it are committed
    conn.execute(sa.select(sa.func.pg_notify(channel, RELOAD_PAYLOAD)))
    conn.commit()


def _take_lock(conn: sa.Connection, wait_seconds: float = 60.0) -> None:
    """Take the session-level apply lock (waiting for another apply-sql), with no statement timeout.

    A file may build an index for minutes: the connection's statement_timeout is lifted
    until _release_lock resets it.
    """
    conn.exec_driver_sql("SET statement_timeout = 0")
    deadline = time.monotonic() + wait_seconds
    while not conn.execute(
        sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID}
    ).scalar():
        if time.monotonic() > deadline:
            conn.exec_driver_sql("RESET ALL")
            raise SqlFileFailed(
                f"another apply-sql has held this database for {wait_seconds:.0f}s; try again later"
            )
        time.sleep(0.5)
    conn.commit()


def _release_lock(conn: sa.Connection) -> None:
    """Give back the apply lock and every session setting a file may have changed."""
    conn.rollback()
    conn.exec_driver_sql("RESET SESSION AUTHORIZATION")
    conn.exec_driver_sql("RESET ALL")
    conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
    conn.commit()


def _refuse_transaction_control(sql_file: SqlFile) -> None:
    """A file may not BEGIN, COMMIT or ROLLBACK: each file already is one transaction."""
    for number, line in enumerate(sql_file.text.splitlines(), start=1):
        match = _TRANSACTION_CONTROL.match(line)
        if match:
            raise SqlFileFailed(
                f"{sql_file.name} line {number}: {match[1].upper()} is not allowed; apply-sql runs "
                "each file in one transaction of its own, so remove BEGIN/COMMIT/ROLLBACK"
            )


def _read_ledger(conn: sa.Connection) -> dict[str, tuple[str, object]]:
    """filename -> (sha256, applied_at) for every applied file; creates the ledger if missing."""
    # Only when missing: its DDL would fire the reload event trigger on every run.
    exists = conn.scalar(sa.select(sa.func.to_regclass(f"{LEDGER_SCHEMA}.{LEDGER_TABLE}")))
    if exists is None:
        conn.exec_driver_sql(_LEDGER_DDL)
        conn.commit()
    rows = conn.execute(sa.select(_ledger.c.filename, _ledger.c.sha256, _ledger.c.applied_at))
    ledger = {row.filename: (row.sha256, row.applied_at) for row in rows}
    conn.rollback()
    return ledger


def _refuse_changed(files: list[SqlFile], ledger: dict[str, tuple[str, object]]) -> None:
    """Raise SqlFileChanged naming every applied file whose checksum differs (comments count too)."""
    changed = [f for f in files if f.name in ledger and ledger[f.name][0] != f.sha256]
    if not changed:
        return
    advice = "Applied files must not change: put the change in a new numbered file."
    if len(changed) == 1:
        (sql_file,) = changed
        recorded, applied_at = ledger[sql_file.name]
        raise SqlFileChanged(
            f"{sql_file.name} was applied on {applied_at:%Y-%m-%d %H:%M} with checksum "
            f"{recorded[:12]}, but the file now has checksum {sql_file.sha256[:12]}. {advice}"
        )
    listed = ", ".join(f"{f.name} (applied on {ledger[f.name][1]:%Y-%m-%d %H:%M})" for f in changed)
    raise SqlFileChanged(f"{len(changed)} applied files have changed since: {listed}. {advice}")


def _note_unknown(
    files: list[SqlFile],
    ledger: dict[str, tuple[str, object]],
    directory: Path,
    log: Callable[[str], None],
) -> None:
    """Say so when the database has applied files the folder does not have (another SQL_DIR?)."""
    unknown = sorted(set(ledger) - {sql_file.name for sql_file in files})
    if unknown:
        log(
            f"note: the database has applied files that {directory} does not have "
            f"({', '.join(unknown)}): was it set up from another SQL_DIR?"
        )


def _apply_one(conn: sa.Connection, sql_file: SqlFile, log: Callable[[str], None]) -> float:
    """Run one file and record it in the ledger, in one transaction; its duration in seconds."""
    started = time.perf_counter()
    driver = conn.connection.driver_connection

    def show_notice(notice: psycopg.errors.Diagnostic) -> None:
        # A warning is for the DBA (the init folder's trigger file raises one without a
        # superuser); notices such as "already exists, skipping" are not worth a line.
        if notice.severity_nonlocalized == "WARNING":
            log(f"{sql_file.name}: WARNING: {notice.message_primary}")

    driver.add_notice_handler(show_notice)
    try:
        with conn.begin():
            _run_and_record(conn, driver, sql_file, started)
    finally:
        driver.remove_notice_handler(show_notice)
    # A SET in one file (search_path, say) must not change what the next file does.
    conn.exec_driver_sql("RESET ALL")
    conn.exec_driver_sql("SET statement_timeout = 0")
    conn.commit()
    return time.perf_counter() - started


def _run_and_record(
    conn: sa.Connection, driver: psycopg.Connection, sql_file: SqlFile, started: float
) -> None:
    """Inside the file's transaction: run it, then record it in the ledger."""
    # The raw psycopg connection runs a multi-statement script as the DBA wrote it;
    # with no parameters, nothing in the file is taken for a placeholder.
    try:
        driver.execute(sql_file.text)
    except psycopg.Error as exc:
        raise SqlFileFailed(
            f"{sql_file.name} failed and was rolled back: {first_line(exc)}"
        ) from exc
    if driver.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise SqlFileFailed(f"{sql_file.name} ended its transaction itself; check it by hand")
    # The file may have changed role: record it as the user that applies.
    conn.exec_driver_sql("RESET SESSION AUTHORIZATION")
    conn.exec_driver_sql("RESET ROLE")
    conn.execute(
        _ledger.insert().values(
            filename=sql_file.name,
            sha256=sql_file.sha256,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
    )


# `python run.py init`: the first files of a team's own folder.
_FIRST_TABLE = """\
-- 001_first_table.sql: your first table. Uncomment the example and adapt it, or write your own.
-- Files are applied once each, in name order, each in one transaction: by the embedded
-- default when it starts, and by `python run.py apply-sql` (also while the app runs).
-- Write this file before the first start: once applied, a file must never change, not
-- even a comment. Later changes go in new numbered files: 003_..., 004_...
--
-- CREATE TABLE notes (
--     id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
--     title      text NOT NULL,
--     body       text,
--     created_at timestamptz NOT NULL DEFAULT now()
-- );
-- COMMENT ON TABLE notes IS 'Shown on the table''s page.';
"""

_RELOAD_ON_DDL = """\
-- 002_reload_on_ddl.sql: running apps reload their catalog after any DDL.
-- An event trigger sends NOTIFY {channel}, 'reload schema' ({channel}: the apps' RELOAD_CHANNEL).
-- Creating an event trigger needs a superuser. Without one this file only says so, and the
-- apps still reload: apply-sql sends the NOTIFY itself after applying files; after DDL of
-- your own (in psql), send it yourself, `kill -HUP <pid>` the app, or POST /admin/reload
-- with ADMIN_TOKEN.

CREATE SCHEMA IF NOT EXISTS pgfront;

CREATE OR REPLACE FUNCTION pgfront.notify_schema_change() RETURNS event_trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{channel}', 'reload schema');
END;
$$;

DO $$
BEGIN
    CREATE EVENT TRIGGER pgfront_reload_on_ddl ON ddl_command_end
        EXECUTE FUNCTION pgfront.notify_schema_change();
    CREATE EVENT TRIGGER pgfront_reload_on_drop ON sql_drop
        EXECUTE FUNCTION pgfront.notify_schema_change();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'not a superuser, so no reload on DDL: after DDL by hand, run NOTIFY {channel}, ''reload schema'' (apply-sql sends it itself)';
END;
$$;
"""


def init_sql_dir(directory: Path, reload_channel: str = "pgfront") -> list[Path]:
    """Write a new folder's first files (an example table, the reload trigger); never overwrite."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(
            f"{directory} is not empty; init writes only into a new or empty folder"
        )
    channel = reload_channel.replace("'", "''")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("001_first_table.sql", _FIRST_TABLE),
        ("002_reload_on_ddl.sql", _RELOAD_ON_DDL.format(channel=channel)),
    ):
        (directory / name).write_text(text)
        written.append(directory / name)
    return written
