"""The rows of a table page: one page of a read, its paging links, and labelled cells.

A table with a primary key pages by keyset (`_after=`/`_before=` cursors) when its sort
columns are NOT NULL, so "next" on page 1,000 costs what it costs on page 1; views and
nullable sorts page by offset. Foreign-key cells get the referenced row's label from one
query per foreign key per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from db.catalog import Relation
from db.session import Session

from ..app.urls import filtered_url, row_url, url_with
from ..pipeline import keyset
from ..pipeline.grammar import GrammarError, OrderTerm
from ..pipeline.matviews import unpopulated_refresh
from ..pipeline.query import HIDDEN, build_select, page
from ..pipeline.reads import ReadRequest, SelectItem
from ..pipeline.references import ForeignLink, fetch_labels
from ..state import current_catalog
from .browsing import Browse
from .side_queries import TIMEOUT_ONLY, PageLimits, time_boxed

_CURSORS = ("_after", "_before", "offset")


@dataclass
class Cell:
    """One grid cell: the value, and where it links (a row page) with the label it shows."""

    value: object
    href: str | None = None
    label: str | None = None


@dataclass
class Grid:
    """One page of rows, ready for the template and the JSON twin."""

    columns: list[str]
    rows: list[dict]
    row_links: list[str | None]
    cells: list[list[Cell]] = field(default_factory=list)
    next_url: str | None = None
    previous_url: str | None = None
    first_url: str | None = None
    first_number: int | None = None  # offset paging numbers its rows; keyset does not
    problem: str | None = None
    unpopulated: str | None = None  # a materialized view never refreshed: the statement to run
    notices: list[str] = field(default_factory=list)
    labels: dict[str, dict] = field(default_factory=dict)


def fetch_grid(relation: Relation, browse: Browse, path: str, args: MultiDict, limits) -> Grid:
    """Run the page's read under the page time limit and work out its paging links."""
    read = browse.read
    shown = (
        [item.column for item in read.select] if read.select else [c.name for c in relation.columns]
    )
    order = keyset.keyset_order(relation, read)
    read, after = _from_cursor(relation, browse, order)
    backwards = bool(browse.before)
    keys = tuple(dict.fromkeys(relation.primary_key + tuple(t.column for t in order or ())))
    stmt = build_select(relation, replace(read, select=tuple(map(SelectItem, shown))), keys)
    if after is not None:
        stmt = stmt.where(after)
    stmt, size = page(stmt, browse.offset, browse.size, browse.size)
    try:
        found = time_boxed(
            lambda: Session.execute(stmt).mappings().all(), limits.page_ms, TIMEOUT_ONLY
        )
    except sa.exc.DBAPIError as exc:
        refresh = unpopulated_refresh(exc, current_catalog(), relation)
        if refresh is None:
            raise
        return Grid(shown, [], [], unpopulated=refresh)  # the columns, and how to fill it
    if found.value is None:
        return Grid(shown, [], [], problem=found.problem)
    rows = [dict(row) for row in found.value]
    more = len(rows) > size
    del rows[size:]
    if backwards:
        rows.reverse()
    grid = Grid(shown, [], [])
    _paging_links(grid, rows, order, browse, more, backwards, path, args)
    grid.row_links = [_row_link(relation, row) for row in rows]
    grid.rows = [{name: row[name] for name in shown} for row in rows]
    return grid


def _from_cursor(
    relation: Relation, browse: Browse, order: tuple[OrderTerm, ...] | None
) -> tuple[ReadRequest, sa.ColumnElement[bool] | None]:
    """The page's read in its total order, and where a cursor (`_after`/`_before`) starts it."""
    if not (browse.after or browse.before):
        return (replace(browse.read, order=order) if order else browse.read), None
    if order is None:
        raise GrammarError(f"{relation.qualified_name} pages by offset, not by cursor")
    step = keyset.read_before_cursor if browse.before else keyset.read_after_cursor
    return step(relation, browse.read, browse.before or browse.after)


def _paging_links(grid, rows, order, browse, more, backwards, path, args) -> None:
    """Next, previous and first links: by cursor when order is total, else by offset."""
    if order is None:
        grid.first_number = browse.offset + 1
        if more:
            grid.next_url = url_with(path, args, _CURSORS, offset=str(browse.offset + browse.size))
        if browse.offset:
            previous = max(browse.offset - browse.size, 0)
            grid.previous_url = url_with(
                path, args, _CURSORS, offset=str(previous) if previous else None
            )
        return
    cursor = {True: None, False: None}
    if rows:
        cursor[True] = keyset.encode_cursor(order, _sort_values(rows[-1], order))
        cursor[False] = keyset.encode_cursor(order, _sort_values(rows[0], order))
    has_next = more if not backwards else bool(rows)
    has_previous = (more if backwards else bool(browse.after)) and bool(rows)
    if has_next and rows:
        grid.next_url = url_with(path, args, _CURSORS, _after=cursor[True])
    if has_previous:
        grid.previous_url = url_with(path, args, _CURSORS, _before=cursor[False])
    if browse.after or browse.before:
        grid.first_url = url_with(path, args, _CURSORS)


def _sort_values(row: dict, order: tuple[OrderTerm, ...]) -> dict:
    """The row's values of the sort keys, by column name."""
    return {term.column: row[HIDDEN + term.column] for term in order}


def _row_link(relation: Relation, row: dict) -> str | None:
    """The row page of a fetched row (tables with a primary key only)."""
    if not relation.primary_key or relation.is_view:
        return None
    key = {name: row[HIDDEN + name] for name in relation.primary_key}
    return row_url(relation, key)


def label_cells(grid: Grid, links: list[ForeignLink], limits: PageLimits) -> None:
    """Fill grid.cells: plain values, and foreign-key cells linked and labelled (one query per key)."""
    linked: dict[str, tuple[ForeignLink, dict]] = {}
    for link in links:
        if not all(name in grid.columns for name in link.columns):
            continue
        keys = {
            tuple(row[name] for name in link.columns)
            for row in grid.rows
            if all(row[name] is not None for name in link.columns)
        }
        if not keys:  # nothing to label: no query (nor, past the deadline, a note about one)
            continue
        found = time_boxed(lambda link=link, keys=keys: fetch_labels(link, keys), limits.side_ms)
        if found.problem:
            grid.notices.append(f"labels for {', '.join(link.columns)}: {found.problem}")
        labels = found.value or {}
        grid.labels[",".join(link.columns)] = labels
        for name in link.columns:
            linked.setdefault(name, (link, labels))
    grid.cells = [
        [_cell(row, name, linked.get(name)) for name in grid.columns] for row in grid.rows
    ]


def _cell(row: dict, name: str, linked: tuple[ForeignLink, dict] | None) -> Cell:
    """One cell; a foreign-key value links to the row it references."""
    value = row[name]
    if linked is None or value is None:
        return Cell(value)
    link, labels = linked
    key = tuple(row[column] for column in link.columns)
    if any(part is None for part in key):
        return Cell(value)
    if link.to_primary_key:
        href = row_url(link.target, dict(zip(link.target_columns, key, strict=True)))
    else:
        href = filtered_url(link.target, link.target_columns, key)
    return Cell(value, href, labels.get(key) if name == link.columns[0] else None)


def sort_order(order: tuple[OrderTerm, ...], column: str) -> str:
    """order= after clicking column's header: it goes first (flipped if it was first already)."""
    first = order[0] if order else None
    descending = bool(first and first.column == column and not first.descending)
    terms = [OrderTerm(column, descending)] + [t for t in order if t.column != column]
    return ",".join(order_text(term) for term in terms)


def order_text(term: OrderTerm) -> str:
    """One order term as the grammar writes it."""
    text = f"{term.column}.{'desc' if term.descending else 'asc'}"
    return text + (f".nulls{term.nulls}" if term.nulls else "")


def count_statement(relation: Relation, browse: Browse) -> sa.Select:
    """The page's rows before paging, for counting."""
    return build_select(relation, replace(browse.read, order=()))
