"""Admin endpoints, off unless ADMIN_TOKEN is set: POST /admin/reload rebuilds the catalogs."""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from ..app.auth import bearer_token
from ..encoding import json_response
from ..errors import ApiError
from ..state import Database, app_state, dangling_settings

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_token() -> None:
    """`Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time; 404 with no ADMIN_TOKEN."""
    token = app_state().settings.admin_token
    if token is None:
        raise ApiError(404, "admin endpoints are off", hint="set ADMIN_TOKEN to turn them on")
    if not is_admin_token(request.headers.get("Authorization"), token):
        raise ApiError(
            401,
            "a valid admin bearer token is required",
            code="PGRST301",
            headers={"WWW-Authenticate": "Bearer"},
        )


def is_admin_token(authorization: str | None, token: str | None) -> bool:
    """True when the Authorization header is `Bearer <ADMIN_TOKEN>`, compared in constant time."""
    if token is None:
        return False
    sent = bearer_token(authorization) or ""  # Bearer only: a bare token is refused
    return hmac.compare_digest(sent.encode(), token.encode())


@bp.post("/reload")
def reload_schema():
    """Reload every database's catalog now (in-flight requests finish on the old ones); 503 if one failed.

    The top level reports the primary database, "databases" each named one.
    """
    state = app_state()
    results = {db.name: reload_one(db) for db in state.every_database}
    body = results.pop(state.primary.name)
    if results:
        body["databases"] = results
    # What /ready lists without the entries, named here for the admin: HIDDEN and LABEL_COLUMNS
    # entries that name nothing now (or no longer only what they hid).
    body["dangling_settings"] = [
        problem.line for problem in dangling_settings(state.settings, state.every_database)
    ]
    ok = body["ok"] and all(result["ok"] for result in results.values())
    return json_response(body, status=200 if ok else 503)


def reload_one(database: Database) -> dict:
    """Reload one database's catalog; what happened, as the endpoint reports it."""
    result = database.reloader.reload_now("admin endpoint")
    return {
        "ok": result.ok,
        "seconds": round(result.seconds, 3),
        "error": result.error,
        "relations": len(database.catalog.relations),
    }
