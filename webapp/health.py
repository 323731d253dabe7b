"""Health endpoints for load balancers and orchestrators: /live and /ready."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Blueprint

from db.engine import first_line

from .encoding import json_response
from .errors import RETRY_AFTER_SECONDS
from .state import app_state

bp = Blueprint("health", __name__)
log = logging.getLogger("webapp.health")


@bp.get("/live")
def live():
    """The process is up and serving requests (no database check)."""
    return json_response({"status": "alive"})


@bp.get("/ready")
def ready():
    """Ready when the database answers and a catalog is loaded; 503 with the reason otherwise."""
    state = app_state()
    catalog = state.catalogs.current
    last = state.reloader.last
    body = {
        "last_reload": None
        if last is None
        else {
            "ok": last.ok,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last.finished_at)),
            "reason": last.reason,
            "error": last.error,
        },
        "listening": state.reloader.listening if state.reloader.channel else None,
        "catalog": {
            "relations": len(catalog.relations),
            "schemas": list(catalog.schemas),
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(catalog.loaded_at)),
            "age_seconds": round(time.time() - catalog.loaded_at, 1),
        },
    }
    try:
        with state.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        # Where the database is (host, port) goes to the log, not to every client.
        log.warning("not ready: %s", first_line(getattr(exc, "orig", None) or exc))
        body.update(status="not ready", database="unreachable")
        return json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    body.update(status="ready", database="ok")
    return json_response(body)
