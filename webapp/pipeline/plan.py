"""The plan of a read: what one response holds, worked out once before any SQL is built.

A read goes parse (reads.py) -> plan (here) -> SQL (statement.py) -> fetch (fetch.py) ->
render (the API, the table page, the export). `plan_read` builds a ReadPlan with small
passes, one per rule, each taking the plan so far and returning it amended:

1. order: the asked order, made total with the primary key where a cursor can be offered
   (and always for an export, which streams every row and makes no cursor);
2. cursor: a cursor replaces the order with the one it was made in and says where to start;
3. embeds: each embed's relationship resolved once, and whether it is a LEFT JOIN of the
   parent's statement or a query of its own;
4. hidden: the columns fetched only to join embeds, make cursors and link rows;
5. limit: the rows asked for, never above the cap.

The plan is frozen data: a front end may read it (the pages show the order it settled on),
never change it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from db.catalog import Catalog, Relation

from .api_error import ApiError
from .cursors import keyset_order, relation_cursor, reversed_order
from .grammar import GrammarError, OrderTerm
from .joined import MAX_JOINED, JoinedEmbed, can_join, joined_shape
from .joins import Join, resolve_join
from .reads import Embed, ReadRequest


@dataclass(frozen=True)
class Paging:
    """What the front end allows: how many rows, from where, in which kind of order."""

    offset: int = 0
    limit: int | None = None  # rows asked for; None: as many as the cap allows
    cap: int | None = None  # never more rows than this in one response; None: no cap
    cursor: str | None = None  # start past the row this cursor was made from
    backwards: bool = False  # ... or before it, walking back (the pages' "previous")
    stream: bool = False  # every row, the primary key ending the order, no cursors (an export)
    row_keys: bool = False  # fetch each row's primary key (the pages link every row)


@dataclass(frozen=True)
class EmbedPlan:
    """One embed with its relationship resolved, and the plans of the embeds inside it."""

    embed: Embed
    join: Join
    hidden: tuple[str, ...]  # the embedded relation's columns that its own embeds join on
    embeds: tuple[EmbedPlan, ...]
    joined: JoinedEmbed | None = None  # read in the parent's statement, as a LEFT JOIN

    @property
    def key(self) -> str:
        """The key the embedded rows have in each parent row."""
        return self.embed.key


@dataclass(frozen=True)
class ReadPlan:
    """A read ready to become SQL: relation, columns, filters, order, start, size, embeds."""

    relation: Relation
    read: ReadRequest  # columns, renames and filters, as parsed
    order: tuple[OrderTerm, ...]  # the order the rows come in (before walking backwards)
    keyset: bool = False  # order is total: a cursor can be made from any row
    after: tuple[Any, ...] | None = None  # sort values (bound) the rows start past
    backwards: bool = False
    offset: int = 0
    limit: int | None = None  # rows in one response; one more is fetched to see if more follow
    hidden: tuple[str, ...] = ()  # columns fetched only for embeds, cursors and row links
    row_keys: bool = False  # the primary key is among them, for the front end to link rows
    embeds: tuple[EmbedPlan, ...] = ()

    @property
    def sort_order(self) -> tuple[OrderTerm, ...]:
        """The order the statement sorts by: reversed when walking backwards from a cursor."""
        return reversed_order(self.order) if self.backwards else self.order


def plan_read(catalog: Catalog, relation: Relation, read: ReadRequest, paging: Paging) -> ReadPlan:
    """The plan of one read of relation: every pass applied in turn."""
    plan = ReadPlan(relation, read, read.order, offset=paging.offset)
    for step in _PASSES:
        plan = step(catalog, plan, paging)
    return plan


def _order(catalog: Catalog, plan: ReadPlan, paging: Paging) -> ReadPlan:
    """The asked order made total with the primary key, where that gives a cursor or is asked."""
    if paging.stream:
        named = {term.column for term in plan.order}
        key = tuple(OrderTerm(name) for name in plan.relation.primary_key if name not in named)
        return replace(plan, order=plan.order + key)
    columns = plan.relation.table.c
    if any("(" in t.column and t.column not in columns for t in plan.order):  # an embed's column
        return plan
    # Groups (aggregates) have no key to continue after.
    total = None if plan.read.aggregated else keyset_order(plan.relation, plan.order)
    return plan if total is None else replace(plan, order=total, keyset=True)


def _cursor(catalog: Catalog, plan: ReadPlan, paging: Paging) -> ReadPlan:
    """A cursor's order, and the sort values the rows start past (or before)."""
    if paging.cursor is None:
        return plan
    if paging.offset:
        raise ApiError(
            400,
            "cursor= does not go with an offset (or a Range not starting at 0)",
            code="PGRST100",
        )
    if not plan.keyset:
        raise GrammarError(
            f"{plan.relation.qualified_name} pages by offset, not by cursor",
            hint="start again without the cursor",
        )
    order, values = relation_cursor(plan.relation, paging.cursor, plan.read.order)
    return replace(plan, order=order, after=tuple(values), backwards=paging.backwards)


def _embeds(catalog: Catalog, plan: ReadPlan, paging: Paging) -> ReadPlan:
    """Each embed resolved once; the first plain to-one embeds become LEFT JOINs."""
    if not plan.read.embeds:
        return plan
    embeds, joins = [], 0
    for embed in plan.read.embeds:
        planned = plan_embed(catalog, plan.relation, embed)
        grouped = plan.read.aggregated  # a joined embed's columns would not be grouped
        if joins < MAX_JOINED and not grouped and can_join(embed, planned.join):
            planned = replace(planned, joined=joined_shape(embed, planned.join, joins))
            joins += 1
        embeds.append(planned)
    return replace(plan, embeds=tuple(embeds))


def plan_embed(catalog: Catalog, parent: Relation, embed: Embed) -> EmbedPlan:
    """One embed of parent and, one level deeper each, the embeds inside it."""
    join = resolve_join(catalog, parent, embed)
    inner = tuple(plan_embed(catalog, join.child, each) for each in embed.read.embeds)
    return EmbedPlan(embed, join, _join_columns(inner), inner)


def _join_columns(embeds: tuple[EmbedPlan, ...]) -> tuple[str, ...]:
    """The parent's columns that these embeds join on, each once."""
    return tuple(dict.fromkeys(name for each in embeds for name in each.join.parent_columns))


def _hidden(catalog: Catalog, plan: ReadPlan, paging: Paging) -> ReadPlan:
    """Columns fetched under private labels: join columns, cursor keys, the row's key."""
    names = list(_join_columns(plan.embeds))
    if plan.keyset:
        names += [term.column for term in plan.order]
    row_keys = paging.row_keys and bool(plan.relation.primary_key)
    if row_keys:
        names += list(plan.relation.primary_key)
    if not names:
        return plan
    return replace(plan, hidden=tuple(dict.fromkeys(names)), row_keys=row_keys)


def _limit(catalog: Catalog, plan: ReadPlan, paging: Paging) -> ReadPlan:
    """The rows one response holds: as asked, never above the cap."""
    limits = [n for n in (paging.limit, paging.cap) if n is not None]
    return replace(plan, limit=min(limits)) if limits else plan


_PASSES: tuple[Callable[[Catalog, ReadPlan, Paging], ReadPlan], ...] = (
    _order,
    _cursor,
    _embeds,
    _hidden,
    _limit,
)
