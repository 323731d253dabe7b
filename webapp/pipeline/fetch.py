"""Running a read's plan: one statement on the request's connection, then its embeds."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from . import cursors
from .embedding import EmbedRows, attach_embeds
from .joined import JOINED, attach_joined
from .plan import ReadPlan
from .query import HIDDEN
from .spread import make_room, output_keys, spread_embeds
from .statement import select_for


@dataclass
class Fetched:
    """One response's rows, in the read's order, and what paging links need to know."""

    rows: list[dict]
    keys: list[str]  # every row's keys, in select= order (embeds last)
    more: bool  # rows past the limit exist (in the direction read)
    row_keys: list[dict] = field(default_factory=list)  # each row's primary key, when planned
    spec: str | None = None  # the order cursors are made in (keyset plans with rows)
    edges: tuple[list, list] = ((), ())  # the sort values of the first and the last row

    @property
    def first_cursor(self) -> str | None:
        """The cursor of the first row (keyset plans): where "previous" walks back from."""
        return None if self.spec is None else cursors.encode(self.spec, self.edges[0])

    @property
    def last_cursor(self) -> str | None:
        """The cursor of the last row (keyset plans): where "next" starts past."""
        return None if self.spec is None else cursors.encode(self.spec, self.edges[1])


def fetch(
    connection: sa.Connection, plan: ReadPlan, embed_rows: EmbedRows | None = None
) -> Fetched:
    """Run the plan's statement (one fetch), attach its embeds, and set the private columns apart.

    embed_rows is the request's budget of embedded rows; a plan with embeds needs one.
    """
    result = connection.execute(select_for(plan))
    names = list(result.keys())
    rows = [dict(zip(names, row, strict=True)) for row in result.all()]
    more = plan.limit is not None and len(rows) > plan.limit
    if more:
        del rows[plan.limit :]
    if plan.backwards:
        rows.reverse()
    keys = [name for name in names if not name.startswith((HIDDEN, JOINED))]
    if plan.embeds:
        _attach(connection, plan, rows, embed_rows)
        keys += [key for each in plan.embeds for key in output_keys(each)]
    found = Fetched(rows, keys, more)
    _set_apart(found, plan)
    return found


def _set_apart(found: Fetched, plan: ReadPlan) -> None:
    """Keep the edge rows' sort values and the rows' keys, then drop the private columns."""
    rows = found.rows
    if plan.keyset and rows:  # encoded only when a link asks
        found.spec = cursors.order_spec(plan.order)
        found.edges = (_sort_values(rows[0], plan), _sort_values(rows[-1], plan))
    if plan.row_keys:
        key = plan.relation.primary_key
        found.row_keys = [{name: row[HIDDEN + name] for name in key} for row in rows]
    for row in rows:
        for name in plan.hidden:
            del row[HIDDEN + name]


def _attach(connection, plan: ReadPlan, rows: list[dict], embed_rows: EmbedRows | None) -> None:
    """Every embed under its key, in select= order: joined ones folded, the others fetched."""
    if embed_rows is None:
        raise ValueError("a read with embeds needs the request's EmbedRows budget")
    make_room(rows, plan.embeds)
    attach_joined(rows, [each.joined for each in plan.embeds if each.joined], embed_rows)
    separate = tuple(each for each in plan.embeds if not each.joined)
    attach_embeds(connection, rows, separate, embed_rows)
    spread_embeds(rows, plan.embeds)


def _sort_values(row: dict, plan: ReadPlan) -> list:
    """A row's values of the plan's sort keys."""
    return [row[HIDDEN + term.column] for term in plan.order]
