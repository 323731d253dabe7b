"""A read's SELECT over a reflected relation: its columns, filters, grouping and order.

Every name is looked up in the catalog (NotInCatalog otherwise) and quoted by SQLAlchemy;
every value is a bound parameter (coercion.py), every column an expression of columns.py,
every WHERE clause one of filters.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from db.catalog import Relation

from .columns import column_expression, select_column
from .filters import condition_clause
from .reads import ReadRequest

if TYPE_CHECKING:
    from .related import Related

HIDDEN = "_pgfront_join_"  # prefix of columns fetched only to join embeds, never returned


def build_select(
    relation: Relation,
    read: ReadRequest,
    hidden: tuple[str, ...] = (),
    related: Related | None = None,
) -> sa.Select:
    """The SELECT of a read's columns, filters and order, before paging.

    hidden names columns fetched (as HIDDEN + name) only so embeds can be joined to them.
    related are the read's embeds, which its filters and order may name: `clients=not.is.null`,
    `order=clients(name)`, and its `!inner` embeds, which keep only rows that have one.
    """
    table = relation.table
    if read.select is not None:
        columns = [select_column(relation, item) for item in read.select]
    else:
        columns = relation.columns
    columns += [relation.column(name).label(HIDDEN + name) for name in hidden]
    stmt = sa.select(*columns).select_from(table).group_by(*grouping(read, columns))
    for condition in read.filters:
        stmt = stmt.where(condition_clause(relation, condition, related))
    if related is not None:
        stmt = stmt.where(*related.inner())
    return stmt.order_by(*order_clauses(relation, read, related))


def grouping(read: ReadRequest, columns: list) -> list[sa.ColumnElement]:
    """GROUP BY of an aggregating read: every other selected (and hidden) column, by position.

    By position, as the select list holds them: a JSON path's keys are bound values, and
    PostgreSQL would not see the same expression again in a GROUP BY with new parameters.
    """
    if not read.aggregated:
        return []
    aggregates = {item.key for item in read.select or () if item.aggregate}
    return [
        sa.literal_column(str(position))
        for position, column in enumerate(columns, start=1)
        if column.key not in aggregates
    ]


def order_clauses(
    relation: Relation, read: ReadRequest, related: Related | None = None
) -> list[sa.ColumnElement]:
    """ORDER BY of a read; the primary key when it asks for none, so pages are stable."""
    clauses = []
    for term in read.order:
        # `embed(col)` names an embed's column; a column may have parentheses in its name too.
        if related is not None and "(" in term.column and term.column not in relation.table.c:
            column = related.order_column(term.column)
        else:
            column = column_expression(relation, term)
        key = column.desc() if term.descending else column.asc()
        if term.nulls == "first":
            key = key.nulls_first()
        elif term.nulls == "last":
            key = key.nulls_last()
        clauses.append(key)
    if not clauses and not read.aggregated:  # groups have no key to sort by
        clauses = [relation.table.columns[name] for name in relation.primary_key]
    return clauses
