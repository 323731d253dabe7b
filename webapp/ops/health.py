"""Health endpoints for load balancers and orchestrators: /live and /ready."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import Blueprint

from db.engine import first_line
from db.roles import check_role

from ..encoding import json_response
from ..errors import RETRY_AFTER_SECONDS
from ..state import AppState, Database, app_state, dangling_settings

bp = Blueprint("health", __name__)
log = logging.getLogger("webapp.ops.health")


@bp.get("/live")
def live():
    """The process is up and serving requests (no database check)."""
    return json_response({"status": "alive"})


@bp.get("/ready")
def ready():
    """Ready when the primary database answers and can switch to DB_ANON_ROLE; 503 and why if not.

    Each named database (DATABASES) is reported under "databases"; one that does not answer
    does not make the instance unready: every instance shares it, so no other would do better.
    """
    state = app_state()
    body = describe(state.primary)
    if state.databases:
        body["databases"] = {name: describe(db) for name, db in state.databases.items()}
    body["dangling_settings"] = dangling(state)
    if state.settings.anon_role is not None:
        for database in state.every_database:
            described = body if database.is_primary else body["databases"][database.name]
            if described["database"] == "ok":
                described["anon_role"] = anon_role_state(database, state.settings.anon_role)
    if body["database"] != "ok" or body.get("anon_role", "ok") != "ok":
        body["status"] = "not ready"
        return json_response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    body["status"] = "ready"
    return json_response(body)


def describe(database: Database) -> dict:
    """One database's health: last reload, LISTEN, catalog, and whether it answers now."""
    catalog = database.catalog
    last = database.reloader.last
    return {
        "last_reload": None
        if last is None
        else {
            "ok": last.ok,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last.finished_at)),
            "reason": last.reason,
            "error": last.error,
        },
        "listening": database.reloader.listening if database.reloader.channel else None,
        "catalog": {
            "relations": len(catalog.relations),
            "schemas": list(catalog.schemas),
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(catalog.loaded_at)),
            "age_seconds": round(time.time() - catalog.loaded_at, 1),
        },
        "database": "ok" if answers(database) else "unreachable",
    }


def anon_role_state(database: Database, role: str) -> str:
    """ "ok" when the login role can switch to DB_ANON_ROLE now, else what is wrong and the fix."""
    try:
        problem = check_role(database.engine, role).describe()
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        return f"not checked: {first_line(getattr(exc, 'orig', None) or exc)}"
    if problem is not None:
        log.warning("not ready: %s: DB_ANON_ROLE=%s: %s", database.name, role, problem)
    return problem or "ok"


def dangling(state: AppState) -> list[dict]:
    """The settings whose entries name nothing now, without the entries.

    /ready answers anyone, and a HIDDEN entry names what it hides: POST /admin/reload (and
    the log, after each reload) name them.
    """
    return [
        {"setting": problem.setting, "database": problem.database}
        for problem in dangling_settings(state.settings, state.every_database)
    ]


def answers(database: Database) -> bool:
    """True when the database runs a SELECT 1 now."""
    try:
        with database.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
        # Where the database is (host, port) goes to the log, not to every client.
        log.warning(
            "not ready: %s: %s", database.name, first_line(getattr(exc, "orig", None) or exc)
        )
        return False
    return True
