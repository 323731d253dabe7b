"""Request ids, one log line per request, Server-Timing with database time, and /metrics."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, has_app_context, request

from .state import app_state

log = logging.getLogger("webapp.requests")
bp = Blueprint("metrics", __name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


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


def install(app: Flask, engine: sa.Engine) -> None:
    """Hook request timing and database timing into the app."""
    app.extensions["pgfront.metrics"] = Metrics()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _db_start(conn, cursor, statement, parameters, context, executemany):
        conn.info["pgfront_started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _db_end(conn, cursor, statement, parameters, context, executemany):
        started = conn.info.pop("pgfront_started", None)
        if started is not None and has_app_context():
            g.db_seconds = g.get("db_seconds", 0.0) + time.perf_counter() - started

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
                request.full_path.rstrip("?"),
                response.status_code,
                seconds * 1000,
                db_ms,
            )
        return response


@bp.get("/metrics")
def metrics():
    """Prometheus text format: requests, latency, pool, catalog."""
    state = app_state()
    data: Metrics = current_app.extensions["pgfront.metrics"]
    pool = state.engine.pool
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
        "# TYPE pgfront_pool_size gauge",
        f"pgfront_pool_size {pool.size()}",
        "# TYPE pgfront_pool_checked_out gauge",
        f"pgfront_pool_checked_out {pool.checkedout()}",
        "# TYPE pgfront_pool_overflow gauge",
        f"pgfront_pool_overflow {max(pool.overflow(), 0)}",
        "# TYPE pgfront_pool_timeouts_total counter",
        f"pgfront_pool_timeouts_total {data.pool_timeouts}",
        "# TYPE pgfront_catalog_relations gauge",
        f"pgfront_catalog_relations {len(state.catalogs.current.relations)}",
        "# TYPE pgfront_catalog_load_seconds gauge",
        f"pgfront_catalog_load_seconds {state.catalogs.current.load_seconds:.6f}",
        "# TYPE pgfront_catalog_reloads_total counter",
        f"pgfront_catalog_reloads_total {state.reloader.count}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
