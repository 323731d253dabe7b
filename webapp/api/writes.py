"""Writes under /api: POST (insert, upsert), PATCH and DELETE, in PostgREST's protocol.

The routes join the API's blueprint (routes.bp); each write is one statement in the
request's transaction, committed only once the response is sure.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request

from db.catalog import Relation
from db.session import Session

from ..databases import api_root
from ..errors import ApiError
from ..pipeline import mutations
from ..pipeline.reads import parse_read
from ..state import app_state
from .headers import OBJECT, choose_format, parse_prefer
from .routes import applied_preferences, bp, content_range, render_rows, resolve_relation


@bp.post("/<name>")
def create_rows(name: str):
    """Insert one object or an array of them in one statement; upsert with Prefer: resolution."""
    relation = resolve_relation(name, "Content-Profile")
    mutations.require_writable(relation, "INSERT")
    prefer = parse_prefer(request.headers)
    rows = mutations.parse_body(json_body())
    names = mutations.payload_columns(relation, rows, request.args.get("columns"))
    values = mutations.insert_rows(relation, rows, names, missing_default=prefer.missing_default)
    stmt = mutations.insert_statement(
        relation, values, prefer.resolution, request.args.get("on_conflict")
    )
    return run_write(relation, stmt, prefer, 201, ("return", "resolution", "missing"))


@bp.patch("/<name>")
def update_rows(name: str):
    """Update the rows the filters select with the body's values."""
    relation = resolve_relation(name, "Content-Profile")
    mutations.require_writable(relation, "UPDATE")
    rows = mutations.parse_body(json_body())
    if len(rows) != 1:
        raise ApiError(400, "PATCH takes one JSON object", code="PGRST102")
    names = mutations.payload_columns(relation, rows, request.args.get("columns"))
    values = mutations.assignments(relation, rows[0], names)
    read = parse_read(request.args, app_state().settings.embed_limits)
    stmt = mutations.update_statement(relation, values, read)
    return run_write(relation, stmt, parse_prefer(request.headers), status=204)


@bp.delete("/<name>")
def delete_rows(name: str):
    """Delete the rows the filters select."""
    relation = resolve_relation(name, "Content-Profile")
    mutations.require_writable(relation, "DELETE")
    read = parse_read(request.args, app_state().settings.embed_limits)
    stmt = mutations.delete_statement(relation, read)
    return run_write(relation, stmt, parse_prefer(request.headers), status=204)


def json_body() -> bytes:
    """The raw body of a write, which must be sent as JSON."""
    if request.mimetype != "application/json":
        raise ApiError(
            415,
            f"send the body as application/json, not {request.mimetype or 'nothing'}",
            code="PGRST102",
        )
    return request.get_data()


def run_write(
    relation: Relation, stmt, prefer, status: int, honoured: tuple[str, ...] = ("return",)
) -> Response:
    """Run one write statement, commit, and answer as Prefer: return= and Accept ask."""
    media_type = choose_format(request.headers)
    result = Session.execute(stmt)
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result]
    representation = prefer.returning == "representation"
    if representation and media_type == OBJECT and len(rows) != 1:
        # Refused before the commit: the teardown rolls the write back.
        raise ApiError(
            406,
            "JSON object requested, multiple (or no) rows written",
            code="PGRST116",
            details=f"The write affected {len(rows)} rows",
        )
    Session.commit()
    headers = {"Content-Range": content_range(0, len(rows), None)}
    applied = applied_preferences(prefer, honoured)
    if applied:
        headers["Preference-Applied"] = applied
    if representation:
        return render_rows(rows, keys, media_type, headers, status=200 if status == 204 else status)
    if prefer.returning == "headers-only" and len(rows) == 1 and relation.primary_key:
        headers["Location"] = location(relation, rows[0])
    return Response(status=201 if status == 201 else 204, headers=headers)


def location(relation: Relation, row: dict) -> str:
    """The API URL of one row, by its primary key."""
    query = "&".join(f"{quote(name)}=eq.{quote(str(row[name]))}" for name in relation.primary_key)
    return f"{api_root()}/{quote(relation.name)}?{query}"
