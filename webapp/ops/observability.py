"""Request ids, one log line per request, Server-Timing with database time, and /metrics.

Request text in a log line goes through printable(): a percent-encoded CR/LF in a path
cannot write a line of its own.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, has_app_context, request

from ..state import app_state

log = logging.getLogger("webapp.requests")
bp = Blueprint("metrics", __name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# C0 and C1 controls and the Unicode line and paragraph separators: anything that may break a line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def configure_logging(level: str) -> None:
    """Log to stderr at LOG_LEVEL in pgfront's format, unless the host has configured logging."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)


def printable(text: object) -> str:
    """Text for a log line, its control characters escaped (CR as \\r, ESC as \\x1b)."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), str(text))


def traceback_text(error: BaseException) -> str:
    """A traceback, from the exception that started it to the last, with each message escaped."""
    chain: list[BaseException] = []
    while error is not None and not any(error is seen for seen in chain):
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(each.__traceback__))
        + f"{type(each).__qualname__}: {printable(each)}"
        for each in reversed(chain)
    ]
    return "\nwhich led to:\n".join(parts)


class Tracebacks:
    """Describes exceptions for the log: with the traceback the first time one is raised at a
    place, in one line after, so a client repeating a request that finds a bug cannot fill the log.
    """

    def __init__(self, places: int = 256):
        self._places = places
        self._seen: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def describe(self, error: BaseException) -> str:
        """ "Type: message", then the traceback or "(traceback logged before)"."""
        summary = f"{type(error).__qualname__}: {printable(error)}"
        place = _raised_at(error)
        with self._lock:
            first = place not in self._seen and len(self._seen) < self._places
            if first:
                self._seen.add(place)
        return (
            f"{summary}\n{traceback_text(error)}"
            if first
            else f"{summary} (traceback logged before)"
        )


def _raised_at(error: BaseException) -> tuple[str, str, int]:
    """The exception's type and the file and line it was raised at."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return (type(error).__qualname__, "", 0)
    return (type(error).__qualname__, frame.tb_frame.f_code.co_filename, frame.tb_lineno)


class WaitressLines(logging.Filter):
    """waitress's own lines name a request's path as sent ("Exception while serving /..."):
    escape them, and describe an exception as our handlers do (one traceback per place)."""

    def __init__(self) -> None:
        super().__init__()
        self.tracebacks = Tracebacks()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        message = printable(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message}: {self.tracebacks.describe(record.exc_info[1])}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = message, ()
        return True


class Metrics:
    """Counters and a latency histogram, kept per app, read by /metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: Counter[int] = Counter()
        self.buckets = [0] * len(BUCKETS)
        self.seconds_sum = 0.0
        self.count = 0
        self.pool_timeouts = 0

    def observe(self, status: int, seconds: float) -> None:
        """Count one finished request."""
        with self._lock:
            self.by_status[status] += 1
            self.count += 1
            self.seconds_sum += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def pool_timeout(self) -> None:
        """Count a request that found no free connection in time."""
        with self._lock:
            self.pool_timeouts += 1


def install(app: Flask, engines: Iterable[sa.Engine]) -> None:
    """Hook request timing and the database timing of every engine into the app."""
    app.extensions["pgfront.metrics"] = Metrics()
    waitress_log = logging.getLogger("waitress")
    if not any(isinstance(each, WaitressLines) for each in waitress_log.filters):
        waitress_log.addFilter(WaitressLines())

    def _db_start(conn, cursor, statement, parameters, context, executemany):
        conn.info["pgfront_started"] = time.perf_counter()

    def _db_end(conn, cursor, statement, parameters, context, executemany):
        started = conn.info.pop("pgfront_started", None)
        if started is not None and has_app_context():
            g.db_seconds = g.get("db_seconds", 0.0) + time.perf_counter() - started

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", _db_start)
        sa.event.listen(engine, "after_cursor_execute", _db_end)

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        db_ms = g.get("db_seconds", 0.0) * 1000
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers["Server-Timing"] = f"db;dur={db_ms:.1f}, total;dur={seconds * 1000:.1f}"
        app.extensions["pgfront.metrics"].observe(response.status_code, seconds)
        if log.isEnabledFor(logging.INFO):  # the path is built only for a line that is written
            log.info(
                "%s %s %s %d %.1fms db=%.1fms",
                g.get("request_id", "-"),
                request.method,
                printable(request.full_path.rstrip("?")),
                response.status_code,
                seconds * 1000,
                db_ms,
            )
        return response


# Per database: the primary's samples carry no label, a named database's {database="<name>"}.
_DATABASE_GAUGES = (
    ("pgfront_pool_size", "gauge", lambda db: str(db.engine.pool.size())),
    ("pgfront_pool_checked_out", "gauge", lambda db: str(db.engine.pool.checkedout())),
    ("pgfront_pool_overflow", "gauge", lambda db: str(max(db.engine.pool.overflow(), 0))),
    ("pgfront_catalog_relations", "gauge", lambda db: str(len(db.catalog.relations))),
    ("pgfront_catalog_load_seconds", "gauge", lambda db: f"{db.catalog.load_seconds:.6f}"),
    ("pgfront_catalog_reloads_total", "counter", lambda db: str(db.reloader.count)),
)


@bp.get("/metrics")
def metrics():
    """Prometheus text format: requests, latency, pool timeouts; pool and catalog per database."""
    state = app_state()
    data: Metrics = current_app.extensions["pgfront.metrics"]
    lines = [
        "# HELP pgfront_requests_total Requests answered, by HTTP status.",
        "# TYPE pgfront_requests_total counter",
        *(
            f'pgfront_requests_total{{status="{status}"}} {n}'
            for status, n in sorted(data.by_status.items())
        ),
        "# HELP pgfront_request_duration_seconds Time to answer a request.",
        "# TYPE pgfront_request_duration_seconds histogram",
        *(
            f'pgfront_request_duration_seconds_bucket{{le="{bound}"}} {n}'
            for bound, n in zip(BUCKETS, data.buckets, strict=True)
        ),
        f'pgfront_request_duration_seconds_bucket{{le="+Inf"}} {data.count}',
        f"pgfront_request_duration_seconds_sum {data.seconds_sum:.6f}",
        f"pgfront_request_duration_seconds_count {data.count}",
        "# TYPE pgfront_pool_timeouts_total counter",
        f"pgfront_pool_timeouts_total {data.pool_timeouts}",
    ]
    for name, kind, value in _DATABASE_GAUGES:
        lines.append(f"# TYPE {name} {kind}")
        for database in state.every_database:
            label = "" if database.is_primary else f'{{database="{database.name}"}}'
            lines.append(f"{name}{label} {value(database)}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
