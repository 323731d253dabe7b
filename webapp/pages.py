"""The HTML pages: an index of what is served and a simple page per table or view."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, render_template, request, url_for

from db.session import Session

from .encoding import dumps
from .query import build_select, page
from .reads import ReadRequest, parse_read
from .state import current_catalog

bp = Blueprint("pages", __name__)

PAGE_SIZE = 50

# Planner statistics, never a COUNT(*): reltuples is -1 until the table is analyzed.
_ESTIMATES_SQL = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS estimate,
           CASE WHEN c.relkind = 'p'  -- a partitioned table's data is in its partitions
                THEN (SELECT sum(pg_total_relation_size(relid))::bigint
                      FROM pg_partition_tree(c.oid))
                ELSE pg_total_relation_size(c.oid) END AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(:schemas)
    """
)


@bp.get("/")
def index():
    """Schemas, tables and views with estimated row counts."""
    catalog = current_catalog()
    stats = {
        (row.schema, row.name): row
        for row in Session.execute(_ESTIMATES_SQL, {"schemas": list(catalog.schemas)})
    }
    schemas = [(schema, catalog.in_schema(schema)) for schema in catalog.schemas]
    return render_template("index.html", schemas=schemas, stats=stats)


@bp.get("/browse/<schema>/<name>")
def table_page(schema: str, name: str):
    """One page of rows of a relation; the query string filters it with the API's grammar."""
    relation = current_catalog().relation(name, schema)
    parsed = parse_read(request.args)
    read = ReadRequest(filters=parsed.filters, order=parsed.order)
    offset = parsed.offset
    stmt, limit = page(build_select(relation, read), offset, PAGE_SIZE, PAGE_SIZE)
    result = Session.execute(stmt)
    columns = list(result.keys())
    rows = result.all()
    has_next = len(rows) > limit
    rows = rows[:limit]
    pages = {
        "previous": page_url(max(offset - limit, 0)) if offset > 0 else None,
        "next": page_url(offset + limit) if has_next else None,
    }
    return render_template(
        "table.html",
        relation=relation,
        columns=columns,
        rows=rows,
        offset=offset,
        pages=pages,
        # The API picks other schemas by header (Accept-Profile), which a link cannot send.
        api_url=url_for("api.read_rows", name=name)
        if schema == current_catalog().default_schema
        else None,
    )


def page_url(offset: int) -> str:
    """This page's URL with every query parameter kept (repeated ones too) and a new offset."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "offset"]
    if offset:
        args.append(("offset", str(offset)))
    return request.path + ("?" + urlencode(args) if args else "")


@bp.app_template_filter("cell")
def cell(value: object, width: int = 120) -> str:
    """A value as text for a grid cell: long text cut, binary shown by its size."""
    if isinstance(value, bytes | memoryview):
        return f"<{len(value):,} bytes>"
    if isinstance(value, dict | list):
        text = dumps(value).decode("utf-8")
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
