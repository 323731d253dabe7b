"""Query recording for debugging (RECORD_QUERIES) and the slow-query log (SLOW_QUERY_MS).

With RECORD_QUERIES=true every statement an app context runs is kept, with its
duration and the line of your code that ran it, for `get_recorded_queries()`, and
written to the `webapp.queries` log at DEBUG (without its parameters). With
SLOW_QUERY_MS set, any statement slower than that, including one that failed (a
statement timeout), is logged at WARNING, recording or not. With both off, no
listener is installed: nothing is added to a statement's path.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, has_app_context

from .ops.observability import printable

log = logging.getLogger("webapp.queries")

_STARTED = "pgfront_recording_started"
# Frames from these modules are machinery; a statement's location is the first frame outside them.
_MACHINERY = (
    "sqlalchemy.",
    "flask.",
    "werkzeug.",
    "click.",
    "contextlib",
    "threading",
    "waitress.",
    "db.session",
    "webapp.recording",
    "webapp.lookups",
    "webapp.paging",
)


@dataclass(frozen=True)
class RecordedQuery:
    """One statement an app context ran: its SQL, parameters, timing and where it came from."""

    statement: str
    parameters: Any
    start_time: float
    end_time: float
    location: str
    error: str | None = None  # the SQLSTATE (or exception name) when the statement failed

    @property
    def duration(self) -> float:
        """Seconds the statement took."""
        return self.end_time - self.start_time


def get_recorded_queries() -> list[RecordedQuery]:
    """The statements the current app context ran so far (empty unless RECORD_QUERIES is on)."""
    return list(g.get("_recorded_queries", ())) if has_app_context() else []


def install(app: Flask, engines: Iterable[sa.Engine]) -> None:
    """Listen to the engines' statements when recording or the slow-query log is on."""
    settings = app.extensions["pgfront"].settings
    record, slow_seconds = settings.record_queries, settings.slow_query_ms / 1000
    if not record and not slow_seconds:
        return

    def started(conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info[_STARTED] = time.perf_counter()

    def finished(conn, cursor, statement, parameters, context, executemany) -> None:
        _observe(conn, statement, parameters, None)

    def failed(context: sa.engine.ExceptionContext) -> None:
        if context.connection is not None and context.statement is not None:
            error = getattr(context.original_exception, "sqlstate", None)
            error = error or type(context.original_exception).__name__
            _observe(context.connection, context.statement, context.parameters, error)

    def _observe(conn, statement: str, parameters: Any, error: str | None) -> None:
        begun = conn.info.pop(_STARTED, None)
        if begun is None:
            return
        ended = time.perf_counter()
        if slow_seconds and ended - begun > slow_seconds:
            _log_slow(statement, ended - begun, error)
        if record and has_app_context():
            query = RecordedQuery(statement, parameters, begun, ended, _location(), error)
            g.setdefault("_recorded_queries", []).append(query)
            log.debug(
                "%.1f ms at %s: %s", query.duration * 1000, query.location, printable(statement)
            )

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", started)
        sa.event.listen(engine, "after_cursor_execute", finished)
        sa.event.listen(engine, "handle_error", failed)


def _log_slow(statement: str, seconds: float, error: str | None) -> None:
    """One WARNING line: how long, which request, the statement (never its parameters)."""
    request_id = g.get("request_id", "-") if has_app_context() else "-"
    outcome = f"failed ({error}) after" if error else "took"
    log.warning(
        "slow query %s %.1f ms (request %s): %s",
        outcome,
        seconds * 1000,
        request_id,
        printable(statement),
    )


def _location() -> str:
    """module:line (function) of the first frame outside SQLAlchemy, Flask and our helpers."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_MACHINERY):
            return f"{module}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return "unknown"
