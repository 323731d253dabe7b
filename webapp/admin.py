"""Admin endpoints, off unless ADMIN_TOKEN is set: POST /admin/reload rebuilds the catalog."""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from .encoding import json_response
from .errors import ApiError
from .state import app_state

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_token() -> None:
    """Bearer ADMIN_TOKEN, compared in constant time; without a configured token, 404."""
    token = app_state().settings.admin_token
    if token is None:
        raise ApiError(404, "admin endpoints are off", hint="set ADMIN_TOKEN to turn them on")
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), token.encode()):
        raise ApiError(
            401,
            "a valid admin bearer token is required",
            code="PGRST301",
            headers={"WWW-Authenticate": "Bearer"},
        )


@bp.post("/reload")
def reload_schema():
    """Reload the catalog now (in-flight requests finish on the old one); 503 if it failed."""
    state = app_state()
    result = state.reloader.reload_now("admin endpoint")
    body = {
        "ok": result.ok,
        "seconds": round(result.seconds, 3),
        "error": result.error,
        "relations": len(state.catalogs.current.relations),
    }
    return json_response(body, status=200 if result.ok else 503)
