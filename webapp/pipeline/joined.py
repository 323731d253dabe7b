"""Plain to-one embeds read in the parent's own statement, as LEFT JOINs.

A to-one embed with no filters, order, paging or embeds of its own (and not into a view,
not spread, not empty) needs no query of its own: the embedded table is LEFT JOINed under
an alias, its columns selected under private labels and folded back into one object per
row (null when nothing matched).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from db.catalog import Relation

from .embedding import EmbedRows
from .joins import Join
from .reads import Embed, SelectItem

JOINED = "_pgfront_embed_"  # prefix of the labels a joined embed's columns are selected under
# The planner's time grows steeply with the joins of one statement (50 LEFT JOINs took it
# seconds): past PostgreSQL's join_collapse_limit, a to-one embed gets a query of its own.
MAX_JOINED = 8


@dataclass(frozen=True)
class JoinedEmbed:
    """A to-one embed read in the parent's statement: where its columns are, under which keys."""

    embed: Embed
    join: Join
    keys: tuple[str, ...]  # the embedded object's keys, in order
    columns: tuple[str, ...]  # the embedded relation's column under each key
    labels: tuple[str, ...]  # the label of each key's column in the parent's rows
    matched: tuple[str, ...]  # labels of the child's join columns: all null when no row matched
    alias: str  # the embedded table's alias in the parent's statement


def can_join(embed: Embed, join: Join) -> bool:
    """True when the embed can be a LEFT JOIN of the parent's statement.

    Only a plain to-one embed (no filters, order, paging or embeds of its own), and not into
    a view: nothing makes the key it shows unique there, and a LEFT JOIN matching two rows
    would repeat the parent's row.
    """
    read = embed.read
    if read.filters or read.order or read.limit is not None or read.offset or read.embeds:
        return False
    if embed.empty or embed.spread or join.through is not None:
        return False
    if any(_not_a_column(item, join.child) for item in read.select or ()):
        return False
    return not (join.to_many or join.child.is_view)


def _not_a_column(item: SelectItem, child: Relation) -> bool:
    """A select item the embed's own query reads: a JSON path, a cast, a computed column."""
    return bool(item.path or item.cast) or item.column in child.computed


def joined_shape(embed: Embed, join: Join, position: int) -> JoinedEmbed:
    """Where a joined embed's columns go in the parent's rows: the labels of its keys."""
    items = embed.read.select
    names = (
        tuple((column.name, column.name) for column in join.child.columns)
        if items is None
        else tuple((item.key, join.child.column(item.column).name) for item in items)
    )
    prefix = f"{JOINED}{position}_"
    return JoinedEmbed(
        embed,
        join,
        keys=tuple(key for key, _ in names),
        columns=tuple(name for _, name in names),
        labels=tuple(f"{prefix}{i}" for i in range(len(names))),
        matched=tuple(f"{prefix}k{i}" for i in range(len(join.child_columns))),
        alias=f"{JOINED}{position}",
    )


def join_embeds(stmt: sa.Select, parent: Relation, joined: list[JoinedEmbed]) -> sa.Select:
    """stmt with each joined embed LEFT JOINed (an alias each) and its columns added, labelled."""
    if not joined:
        return stmt
    source = parent.table
    for each in joined:
        join = each.join
        child = join.child.table.alias(each.alias)
        pairs = zip(join.parent_columns, join.child_columns, strict=True)
        source = source.outerjoin(
            child, sa.and_(*(child.c[c] == parent.table.c[p] for p, c in pairs))
        )
        labelled = zip(each.columns + join.child_columns, each.labels + each.matched, strict=True)
        stmt = stmt.add_columns(*(child.c[name].label(label) for name, label in labelled))
    return stmt.select_from(source)


def attach_joined(rows: list[dict], joined: list[JoinedEmbed], budget: EmbedRows) -> None:
    """Fold each joined embed's columns of every row into one object (None when nothing matched)."""
    found_rows = [0] * len(joined)
    for row in rows:
        for position, each in enumerate(joined):
            values = [row.pop(label) for label in each.labels]
            matched = [row.pop(label) for label in each.matched]
            found = all(value is not None for value in matched)
            row[each.embed.key] = dict(zip(each.keys, values, strict=True)) if found else None
            found_rows[position] += found
    for each, count in zip(joined, found_rows, strict=True):
        budget.take(each.embed.key, count)
