"""The rows of a table page: one page of a read, its paging links, and labelled cells.

A table with a primary key pages by keyset (`_after=`/`_before=` cursors) when its sort
columns are NOT NULL, so "next" on page 1,000 costs what it costs on page 1; views and
nullable sorts page by offset. Foreign-key cells get the referenced row's label from one
query per foreign key per page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from db.catalog import Relation
from db.session import Session

from ..app.urls import filtered_url, row_url, url_with
from ..pipeline.fetch import Fetched, fetch
from ..pipeline.grammar import OrderTerm
from ..pipeline.matviews import unpopulated_refresh
from ..pipeline.plan import Paging, ReadPlan, plan_read
from ..pipeline.references import ForeignLink, fetch_labels
from ..pipeline.statement import count_for
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
    plan = plan_read(current_catalog(), relation, read, browse_paging(relation, browse))
    try:
        found = time_boxed(lambda: fetch(Session.connection(), plan), limits.page_ms, TIMEOUT_ONLY)
    except sa.exc.DBAPIError as exc:
        refresh = unpopulated_refresh(exc, current_catalog(), relation)
        if refresh is None:
            raise
        return Grid(shown, [], [], unpopulated=refresh)  # the columns, and how to fill it
    if found.value is None:
        return Grid(shown, [], [], problem=found.problem)
    fetched = found.value
    links = [row_url(relation, key) for key in fetched.row_keys] or [None] * len(fetched.rows)
    grid = Grid(shown, fetched.rows, links)
    _paging_links(grid, plan, fetched, browse, path, args)
    return grid


def browse_paging(relation: Relation, browse: Browse) -> Paging:
    """A page's paging: its size, offset or cursor, and each row's key for its link."""
    return Paging(
        offset=browse.offset,
        limit=browse.size,
        cap=browse.size,
        cursor=browse.before or browse.after,
        backwards=bool(browse.before),
        row_keys=not relation.is_view,
    )


def _paging_links(grid: Grid, plan: ReadPlan, found: Fetched, browse, path, args) -> None:
    """Next, previous and first links: by cursor when the order is total, else by offset."""
    if not plan.keyset:
        grid.first_number = browse.offset + 1
        if found.more:
            grid.next_url = url_with(path, args, _CURSORS, offset=str(browse.offset + browse.size))
        if browse.offset:
            previous = max(browse.offset - browse.size, 0)
            grid.previous_url = url_with(
                path, args, _CURSORS, offset=str(previous) if previous else None
            )
        return
    rows = bool(found.rows)
    has_next = found.more if not plan.backwards else rows
    has_previous = (found.more if plan.backwards else bool(browse.after)) and rows
    if has_next and rows:
        grid.next_url = url_with(path, args, _CURSORS, _after=found.last_cursor)
    if has_previous:
        grid.previous_url = url_with(path, args, _CURSORS, _before=found.first_cursor)
    if browse.after or browse.before:
        grid.first_url = url_with(path, args, _CURSORS)


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
    plan = plan_read(current_catalog(), relation, browse.read, Paging())
    return count_for(plan)
