"""The JSON API under /api: rows of reflected tables and views."""

from __future__ import annotations

from flask import Blueprint, request

from db.catalog import Relation
from db.session import Session

from .encoding import json_response
from .errors import ApiError
from .grammar import parse_read
from .query import build_select
from .state import app_state, current_catalog

bp = Blueprint("api", __name__, url_prefix="/api")


def resolve_relation(name: str) -> Relation:
    """The relation named in the path, in the schema of Accept-Profile (else the default)."""
    catalog = current_catalog()
    schema = request.headers.get("Accept-Profile")
    if schema is not None and schema not in catalog.schemas:
        raise ApiError(
            406,
            f"schema {schema!r} is not served",
            code="PGRST106",
            hint="served schemas: " + ", ".join(catalog.schemas),
        )
    return catalog.relation(name, schema or catalog.default_schema)


@bp.get("/<name>")
def read_rows(name: str):
    """Rows of a table or view, filtered, ordered and paged by the query string."""
    relation = resolve_relation(name)
    read = parse_read(request.args)
    stmt, limit = build_select(relation, read, app_state().settings.max_rows)
    result = Session.execute(stmt)
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result]
    more = len(rows) > limit
    del rows[limit:]
    headers = {"Content-Range": content_range(read.offset, len(rows))}
    if more and (read.limit is None or read.limit > limit):
        # The hard cap cut this response; say so rather than truncate silently.
        headers["X-Row-Cap"] = str(limit)
    return json_response(rows, headers=headers)


def content_range(offset: int, count: int, total: int | None = None) -> str:
    """The Content-Range value for count rows starting at offset."""
    size = "*" if total is None else str(total)
    if count == 0:
        return f"*/{size}"
    return f"{offset}-{offset + count - 1}/{size}"
