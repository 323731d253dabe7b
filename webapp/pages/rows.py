"""The row page: every column of one row, its foreign keys, the rows that point at it, and the
rows it relates to many-to-many."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, render_template, request, url_for
from sqlalchemy.dialects import postgresql

from db.catalog import Relation
from db.session import Session

from ..app.responses import attachment, page_or_twin
from ..app.urls import filtered_url, row_url, twin_url, with_query
from ..errors import ApiError
from ..pipeline.coercion import coerce_value
from ..pipeline.references import (
    ForeignLink,
    Neighbours,
    Reference,
    fetch_labels,
    fetch_neighbours,
    foreign_links,
    many_to_many,
    references_to,
    referencing_count,
)
from ..pipeline.values import dumps
from ..state import app_state, current_catalog
from .side_queries import PageLimits, time_boxed

bp = Blueprint("rows", __name__)


@dataclass
class Outgoing:
    """A foreign key of the row: where it points, with the target row's label."""

    columns: tuple[str, ...]
    target: str
    href: str
    label: str | None
    problem: str | None


@dataclass
class Incoming:
    """Rows of another table that point at this row: how many (capped) and where to see them."""

    source: str
    columns: tuple[str, ...]
    href: str
    count: int | None
    more: bool
    problem: str | None


@dataclass
class Related:
    """Rows of another table related to this row through a junction: the first few, linked."""

    target: str
    junction: str
    rows: list[dict]  # {"href", "key", "label"} each
    more: bool
    href: str  # the junction's rows of this row, on its table page
    problem: str | None


NEIGHBOURS_SHOWN = 20  # related rows listed per many-to-many relationship; the rest a link away


@bp.get("/browse/<schema>/<name>/row")
def row_page(schema: str, name: str):
    """One row by primary key (`?id=5`; every key column for composite keys)."""
    catalog = current_catalog()
    relation = catalog.relation(name, schema)
    key = row_key(relation, request.args)
    row = fetch_row(relation, key)
    settings = app_state().settings
    limits = PageLimits.from_settings(settings)
    links = foreign_links(catalog, relation, settings.label_columns)
    outgoing = [found for link in links if (found := _outgoing(link, row, limits))]
    incoming = [
        found for ref in references_to(catalog, relation) if (found := _incoming(ref, row, limits))
    ]
    related = [
        found
        for neighbours in many_to_many(catalog, relation, settings.label_columns)
        if (found := _related(neighbours, row, limits))
    ]
    twin = {
        "relation": relation.qualified_name,
        "row": row,
        "foreign_keys": [item.__dict__ for item in outgoing],
        "referenced_by": [item.__dict__ for item in incoming],
        "many_to_many": [item.__dict__ for item in related],
    }
    return page_or_twin(
        lambda: twin,
        lambda: render_template(
            "row.html",
            relation=relation,
            key=key,
            fields=[(column, row[column.name]) for column in relation.columns],
            outgoing={item.columns[0]: item for item in outgoing},
            outgoing_list=outgoing,
            incoming=incoming,
            related=related,
            limits=limits,
            json_url=twin_url(),
            blob_url=lambda column: with_query(
                url_for("rows.row_value", schema=schema, name=name, column=column),
                request.args.items(multi=True),
            ),
        ),
    )


@bp.get("/browse/<schema>/<name>/row/<column>")
def row_value(schema: str, name: str, column: str):
    """One value of a row as a download (bytea as its bytes, anything else as text)."""
    relation = current_catalog().relation(name, schema)
    col = relation.column(column)
    row = fetch_row(relation, row_key(relation, request.args))
    value = row[col.name]
    if value is None:
        raise ApiError(404, f"{column} is null in this row")
    body = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
    mimetype = "application/octet-stream" if isinstance(value, bytes | memoryview) else "text/plain"
    filename = f"{relation.name}-{col.name}.{'bin' if mimetype != 'text/plain' else 'txt'}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": attachment(filename)},
    )


def row_key(relation: Relation, args) -> dict[str, Any]:
    """The primary key values of the row a page asks for, converted to the columns' types."""
    if not relation.primary_key or relation.is_view:
        raise ApiError(
            404,
            f"{relation.qualified_name} has no primary key, so its rows have no pages",
            hint="filter the table page instead",
        )
    missing = [name for name in relation.primary_key if name not in args]
    if missing:
        raise ApiError(
            400,
            "a row page needs every primary key column in the query string: " + ", ".join(missing),
            hint="?" + "&".join(f"{name}=..." for name in relation.primary_key),
        )
    return {name: args[name] for name in relation.primary_key}


def fetch_row(relation: Relation, key: dict[str, str]) -> dict[str, Any]:
    """The row with this primary key, or a 404."""
    where = [relation.column(n) == coerce_value(relation.column(n), v) for n, v in key.items()]
    found = Session.execute(sa.select(*relation.columns).where(*where)).mappings().first()
    if found is None:
        shown = ", ".join(f"{name}={value}" for name, value in key.items())
        raise ApiError(404, f"no row of {relation.qualified_name} has {shown}")
    return dict(found)


def _outgoing(link: ForeignLink, row: dict, limits: PageLimits) -> Outgoing | None:
    """Where one of the row's foreign keys points (None when the key is null)."""
    values = tuple(row[name] for name in link.columns)
    if any(value is None for value in values):
        return None
    if link.to_primary_key:
        href = row_url(link.target, dict(zip(link.target_columns, values, strict=True)))
    else:
        href = filtered_url(link.target, link.target_columns, values)
    found = time_boxed(lambda: fetch_labels(link, {values}), limits.side_ms)
    label = (found.value or {}).get(values)
    return Outgoing(link.columns, link.target.qualified_name, href, label, found.problem)


def _incoming(reference: Reference, row: dict, limits: PageLimits) -> Incoming | None:
    """How many rows of one referencing table point at the row (None when the key is null)."""
    values = tuple(row[name] for name in reference.target_columns)
    if any(value is None for value in values):
        return None
    cap = limits.count_limit
    found = time_boxed(lambda: referencing_count(reference, values, cap), limits.side_ms)
    return Incoming(
        reference.source.qualified_name,
        reference.columns,
        filtered_url(reference.source, reference.columns, values),
        min(found.value, cap) if found.value is not None else None,
        found.value is not None and found.value > cap,
        found.problem,
    )


def _related(neighbours: Neighbours, row: dict, limits: PageLimits) -> Related | None:
    """The first rows related to the row through one junction (None when its key is null)."""
    rel = neighbours.relationship
    values = tuple(row[name] for name in rel.source_columns)
    if any(value is None for value in values):
        return None
    cap = NEIGHBOURS_SHOWN
    found = time_boxed(lambda: fetch_neighbours(neighbours, values, cap), limits.side_ms)
    rows = [_neighbour(neighbours, found_row) for found_row in (found.value or [])[:cap]]
    return Related(
        neighbours.target.qualified_name,
        neighbours.junction.qualified_name,
        rows,
        found.value is not None and len(found.value) > cap,
        filtered_url(neighbours.junction, rel.junction.source_columns, values),
        found.problem,
    )


def _neighbour(neighbours: Neighbours, found: tuple) -> dict:
    """One related row as the page lists it: its link, its key and its label."""
    columns, values = neighbours.relationship.target_columns, found[:-1]
    if neighbours.to_primary_key:
        href = row_url(neighbours.target, dict(zip(columns, values, strict=True)))
    else:
        href = filtered_url(neighbours.target, columns, values)
    return {"href": href, "key": ", ".join(map(str, values)), "label": found[-1]}


@bp.app_template_filter("value_kind")
def value_kind(value: object, column: sa.Column) -> str:
    """How the row page renders a value: null, json, array, bytes, time or text."""
    if value is None:
        return "null"
    if isinstance(column.type, sa.JSON | postgresql.JSON | postgresql.JSONB):
        return "json"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bytes | memoryview):
        return "bytes"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "time"
    return "text"


@bp.app_template_filter("pretty_json")
def pretty_json(value: object) -> str:
    """A JSON value indented for reading."""
    return dumps(value, indent=True).decode("utf-8")
