"""The HTML pages: the index of what is served and the table page (grid, filters, sort, paging)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from db.session import Session

from ..app.responses import page_or_twin
from ..app.urls import table_url, this_path, twin_url, url_with, with_query
from ..databases import database_entries
from ..pipeline.counts import statistics_counts
from ..pipeline.references import foreign_links
from ..pipeline.values import dumps
from ..state import app_state, current_catalog, current_database
from .browsing import (
    BUILDER_OPS,
    PAGE_PARAMS,
    PAGE_SIZES,
    api_pairs,
    builder_row,
    canonical_query,
    parse_browse,
    sortable,
)
from .grid import count_statement, fetch_grid, label_cells, order_text, sort_order
from .side_queries import PageLimits, count_rows

bp = Blueprint("pages", __name__)

# Sizes on disk, by relation; the rows are counted by the statistics (pipeline/counts.py).
_SIZES_SQL = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS name,
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
    """Schemas, tables and views with estimated rows, and the databases; `q=` narrows the names."""
    catalog = current_catalog()
    wanted = request.args.get("q", "").strip().lower()
    stats = _index_stats(list(catalog.schemas))
    schemas = [
        (schema, [rel for rel in catalog.in_schema(schema) if wanted in rel.name.lower()])
        for schema in catalog.schemas
    ]
    databases = database_entries(current_database())
    return page_or_twin(
        lambda: _index_twin(schemas, stats, databases),
        lambda: render_template(
            "index.html",
            schemas=schemas,
            stats=stats,
            q=wanted,
            team_view=_team_view(catalog),
            databases=databases if len(databases) > 1 else [],
        ),
    )


def _index_twin(schemas, stats, databases) -> dict:
    """The JSON twin of the index: each schema's relations, and the databases."""
    return {
        "database": current_database().name,
        "schemas": [
            {
                "schema": schema,
                "relations": [_index_entry(rel, stats.get((rel.schema, rel.name))) for rel in rels],
            }
            for schema, rels in schemas
        ],
        "databases": databases,
    }


def _team_view(catalog) -> bool:
    """True when the index links the sample team view."""
    # The team view is written against the sample schema; link it only where that is served
    # (and while webapp/views/ still has it: the team may have replaced it with its own).
    return (
        current_database().is_primary
        and ("public", "branches") in catalog.relations
        and "team.branch_report" in current_app.view_functions
    )


@dataclass(frozen=True)
class _Stat:
    """What the index shows of a relation's size: estimated rows and bytes on disk."""

    estimate: int | None
    bytes: int | None


def _index_stats(schemas: list[str]) -> dict[tuple[str, str], _Stat]:
    """The index's statistics of every relation of the schemas: two catalog queries."""
    estimates = statistics_counts(Session.connection(), schemas)
    return {
        (row.schema, row.name): _Stat(estimates.get((row.schema, row.name)), row.bytes)
        for row in Session.execute(_SIZES_SQL, {"schemas": schemas})
    }


def _index_entry(relation, stat) -> dict:
    """One relation of the index as its JSON twin shows it."""
    return {
        "name": relation.name,
        "kind": relation.kind,
        "comment": relation.comment,
        "estimated_rows": stat.estimate if stat else None,
        "bytes": stat.bytes if stat and relation.kind != "view" else None,
        "url": table_url(relation.schema, relation.name),
    }


@bp.get("/browse/<schema>/<name>")
def table_page(schema: str, name: str):
    """One page of a table or view, filtered, sorted and paged by the query string."""
    relation = current_catalog().relation(name, schema)
    columns = [column.name for column in relation.columns]
    canonical = canonical_query(request.args, columns)
    if canonical is not None:  # a submitted filter builder or column picker
        return redirect(with_query(this_path(), canonical), 303)
    settings = app_state().settings
    limits = PageLimits.from_settings(settings)
    browse = parse_browse(relation, request.args, limits.max_size)
    grid = fetch_grid(relation, browse, this_path(), request.args, limits)
    links = foreign_links(current_catalog(), relation, settings.label_columns)
    label_cells(grid, links, limits)
    if (browse.read.limit or 0) > limits.max_size:
        grid.notices.append(f"Showing at most {limits.max_size:,} rows per page.")
    count = None
    if grid.problem is None and grid.unpopulated is None:
        count = count_rows(
            relation,
            count_statement(relation, browse),
            browse.filtered,
            exact=browse.exact_count,
            limits=limits,
        )
    status = 504 if grid.problem else 200
    return page_or_twin(
        lambda: _table_twin(relation, browse, grid, count),
        lambda: render_template(
            "table.html", **_table_context(relation, browse, grid, count, limits), status=status
        ),
        status,
    )


def _table_twin(relation, browse, grid, count) -> dict:
    """The JSON twin of a table page: the same rows, links and counts.

    Its links keep the query string (`_format=json` too, when the twin was asked for that way).
    """
    return {
        "relation": relation.qualified_name,
        "columns": grid.columns,
        "rows": grid.rows,
        "labels": {key: [[*k, v] for k, v in found.items()] for key, found in grid.labels.items()},
        "count": count.__dict__ if count else None,
        "next": grid.next_url,
        "previous": grid.previous_url,
        "problem": grid.problem,
        "unpopulated": grid.unpopulated,
        "notices": grid.notices,
    }


def _table_context(relation, browse, grid, count, limits) -> dict:
    """What table.html needs beyond the grid: forms, sort links, counts, exports."""
    args, path = request.args, this_path()
    return {
        "relation": relation,
        "all_columns": [column.name for column in relation.columns],
        "grid": grid,
        "count": count,
        "browse": browse,
        "limits": limits,
        "builder_ops": BUILDER_OPS,
        "page_sizes": sorted(set(PAGE_SIZES) | {browse.size}),
        **_form_context(path, args),
        **_sort_context(relation, browse, grid, path, args),
        "exact_count_url": url_with(path, args, (), _count="exact"),
        "json_url": twin_url(),
        "export_query": url_with("", args, PAGE_PARAMS | {"limit", "offset"}),
        "page_path": path,
        "column_classes": {name: column_class(relation, name) for name in grid.columns},
    }


def _form_context(path: str, args) -> dict:
    """The filter builder's rows, the forms' hidden fields and the filter chips."""
    pairs = api_pairs(args)
    rows, kept = [], []
    for key, value in pairs:
        row = builder_row(key, value)
        (rows.append(row) if row else kept.append((key, value)))
    return {
        "builder_rows": rows,
        "builder_hidden": [(k, v) for k, v in kept if k != "offset"],
        "column_hidden": [(k, v) for k, v in pairs if k not in ("select", "offset")],
        "size_hidden": [(k, v) for k, v in pairs if k not in ("limit", "offset")],
        "chips": [
            (key, value, _without_pair(path, args, key, value))
            for key, value in pairs
            if key not in ("select", "order", "limit", "offset")
        ],
    }


def _sort_context(relation, browse, grid, path: str, args) -> dict:
    """The column headers' sort links and what the page is sorted by."""
    order = browse.read.order
    return {
        "sort_links": {
            name: url_with(
                path, args, ("_after", "_before", "offset"), order=sort_order(order, name)
            )
            for name in grid.columns
            if sortable(relation, name)
        },
        "sorted_by": {t.column: t for t in order},
        "primary_sort": order[0] if order else None,
        "order_terms": [order_text(t) for t in order],
        "clear_order": url_with(path, args, ("_after", "_before", "offset", "order")),
    }


def _without_pair(path: str, args, key: str, value: str) -> str:
    """This page without one (key, value) pair, back at the first page."""
    kept = MultiDict([(k, v) for k, v in args.items(multi=True) if (k, v) != (key, value)])
    return url_with(path, kept, ("_after", "_before", "offset"))


_NUMERIC = ("smallint", "integer", "bigint", "numeric", "real", "double precision", "money")


def column_class(relation, name: str) -> str:
    """CSS class of a grid column: numbers right-aligned, dates and times kept on one line."""
    type_name = relation.type_names.get(name, "")
    if type_name.startswith(_NUMERIC):
        return "num"
    if type_name.startswith(("date", "time", "interval")):
        return "nowrap"
    return ""


# Every page's "JSON" link: its own URL asking for the twin.
bp.add_app_template_global(twin_url, "twin_url")


@bp.app_template_filter("cell")
def cell(value: object, width: int | None = 120) -> str:
    """A value as text for a cell: as the API writes it, long text cut (width None: never)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | memoryview):
        return f"<{len(value):,} bytes>"
    if isinstance(value, dict | list):
        text = dumps(value).decode("utf-8")
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"
