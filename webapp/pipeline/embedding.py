"""Embedding related rows (`select=*,authors(*)`): one query per embed per level.

Each embed follows one relationship (joins.py): many-to-one and one-to-one give an object
(or null), one-to-many and many-to-many a list.

One query per embed per level, whatever the number of parent rows: the parents'
key values go into one `IN (...)` and the children are attached in Python, so they
are encoded exactly like top-level rows. A many-to-many embed's query joins the child to
the junction table, whose key columns say which parent each row belongs to. A per-parent
limit uses row_number().

A plain to-one embed needs no query of its own: it is a LEFT JOIN of the parent's
statement (joined.py).

All the embedded rows of one request share one budget (MAX_EMBED_ROWS): each embed's
query asks for at most the rows left plus one, so a request that wants more is refused
with a 413 having held no more than that many rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from db.catalog import Relation

from .api_error import ApiError
from .grammar import GrammarError
from .joins import Join
from .query import HIDDEN, build_select, order_clauses
from .related import Related
from .spread import make_room, spread_embeds

if TYPE_CHECKING:
    from .plan import EmbedPlan

VIA = "_pgfront_via_"  # prefix of the junction's columns a many-to-many embed's rows carry


class EmbedRows:
    """The embedded rows one request may still fetch (MAX_EMBED_ROWS), every embed and level together.

    Rows become Python objects batch by batch. Past `heavy_after` rows the request waits for
    a turn (`wait_turn`, EMBED_CONCURRENCY) before converting more, so only a few requests
    at a time hold many rows: the memory they use is what the process keeps afterwards.
    """

    def __init__(
        self,
        limit: int,
        heavy_after: int | None = None,
        wait_turn: Callable[[], None] | None = None,
    ):
        self.limit = limit
        self.used = 0
        self.heavy_after = limit if heavy_after is None else heavy_after
        self.wait_turn = wait_turn

    @property
    def left(self) -> int:
        """How many more rows the embeds may bring."""
        return self.limit - self.used

    def take(self, key: str, count: int) -> None:
        """Count rows fetched for the embed under key; a 413 naming the limit once past it."""
        self.used += count
        if self.used > self.limit:
            raise ApiError(
                413,
                f"the embedded rows of this request exceed MAX_EMBED_ROWS={self.limit}",
                code="54000",
                details=f"reached while embedding {key!r}",
                hint=f"ask for fewer: {key}.limit= caps the rows per parent; "
                "fewer parent rows (limit=) or fewer embeds also help",
            )

    def next_batch(self) -> int:
        """How many rows to fetch next: one past heavy_after at first, then (with a turn) the rest."""
        if self.used <= self.heavy_after:
            return self.heavy_after - self.used + 1
        if self.wait_turn is not None:
            wait_turn, self.wait_turn = self.wait_turn, None  # once per request
            wait_turn()
        return self.left + 1


def attach_embeds(
    connection: sa.Connection, rows: list[dict], plans: tuple[EmbedPlan, ...], budget: EmbedRows
) -> None:
    """Fetch each embed for all rows in one query and attach it to each row (recursively)."""
    for plan in plans:
        if plan.embed.empty:  # selects nothing: it only filters the parents
            continue
        join = plan.join
        keys = {_key(row, join.parent_columns) for row in rows}
        keys.discard(None)
        children = _fetch_children(connection, plan, sorted(keys, key=repr), budget)
        grouped: dict[tuple, list[dict]] = {}
        for child in children:
            grouped.setdefault(_parent_key_of(child, join), []).append(child)
        for row in rows:
            found = grouped.get(_key(row, join.parent_columns), [])
            row[plan.key] = found if join.to_many else (found[0] if found else None)
        for child in children:
            _drop_hidden(child)


def _fetch_children(
    connection: sa.Connection, plan: EmbedPlan, keys: list[tuple], budget: EmbedRows
) -> list[dict]:
    """The embedded rows of every parent key, with their own embeds attached."""
    if not keys:
        return []
    join, read = plan.join, plan.embed.read
    child = join.child
    related = Related(child, plan.embeds)
    if join.junction is None and join.through is None:
        hidden = tuple(dict.fromkeys(join.child_columns + plan.hidden))
        stmt = build_select(child, read, hidden, related)
        match = [child.table.columns[name] for name in join.child_columns]
    elif read.aggregated:  # the junction's (or the call's) key columns would join the groups
        through = "a junction table" if join.through is None else "a function"
        raise GrammarError(
            f"aggregates in {plan.embed.key}, embedded through {through}, are not supported"
        )
    elif join.through is not None:
        stmt, match = _through_call(build_select(child, read, plan.hidden, related), join)
    else:
        stmt, match = _through_junction(build_select(child, read, plan.hidden, related), join)
    stmt = stmt.where(_matching(match, keys))
    if read.limit is not None or read.offset:  # per parent; a to-one embed past its row: null
        stmt = _per_parent_page(stmt, child, read, match)
    # One query, of one row more than the budget has left, so going past it is seen
    # without holding more.
    with connection.execute(stmt.limit(budget.left + 1)) as result:
        rows = _counted_rows(result, plan.key, budget)
    make_room(rows, plan.embeds)
    attach_embeds(connection, rows, plan.embeds, budget)
    spread_embeds(rows, plan.embeds)
    return rows


def _through_junction(stmt: sa.Select, join: Join) -> tuple[sa.Select, list[sa.Column]]:
    """The child's rows joined to the junction's: one per parent row it relates to.

    Returns the statement, with the junction's columns that hold the parent's key selected
    (labelled VIA + name), and those columns.
    """
    table, spec = join.junction.table, join.relationship.junction
    pairs = zip(spec.target_columns, join.child_columns, strict=True)
    stmt = stmt.join(table, sa.and_(*(table.c[j] == join.child.table.c[c] for j, c in pairs)))
    match = [table.c[name] for name in spec.source_columns]
    return stmt.add_columns(*(column.label(VIA + column.name) for column in match)), match


def _through_call(stmt: sa.Select, join: Join) -> tuple[sa.Select, list[sa.Column]]:
    """`FROM parent JOIN fn(parent) ON true`: each row with its parent's key (labelled VIA + name)."""
    parent = join.through
    stmt = stmt.select_from(parent.join(join.child.table, sa.true()))
    match = [parent.c[name] for name in join.parent_columns]
    return stmt.add_columns(*(column.label(VIA + column.name) for column in match)), match


def _parent_key_of(child: dict, join: Join) -> tuple | None:
    """The parent key an embedded row belongs to: its own columns, or its junction's or call's."""
    if join.through is not None:
        return tuple(child[VIA + name] for name in join.parent_columns)
    if join.junction is None:
        return _key(child, join.child_columns)
    return tuple(child[VIA + name] for name in join.relationship.junction.source_columns)


def _counted_rows(result: sa.CursorResult, key: str, budget: EmbedRows) -> list[dict]:
    """The result's rows as dicts, converted batch by batch as the budget allows."""
    names = list(result.keys())
    rows: list[dict] = []
    # The driver holds the result as it came; rows become Python objects as they are fetched.
    while True:
        wanted = budget.next_batch()
        batch = result.fetchmany(wanted)
        budget.take(key, len(batch))
        rows.extend(dict(zip(names, values, strict=True)) for values in batch)
        if len(batch) < wanted:  # the result is used up
            return rows


def _matching(match: list[sa.Column], keys: list[tuple]) -> sa.ColumnElement[bool]:
    """child key IN parent keys, as array parameters (any number of keys, two parameters).

    A literal (a, b) IN ((..), (..), ...) list of thousands of keys overflows the
    parser's stack and the driver's parameter limit; unnest of one array per column does not.
    """
    arrays = []
    for position, column in enumerate(match):
        if isinstance(column.type, sa.types.NullType):  # no array type to bind: a plain list
            return (
                sa.tuple_(*match).in_(keys)
                if len(match) > 1
                else match[0].in_([k[0] for k in keys])
            )
        arrays.append(
            sa.bindparam(None, [key[position] for key in keys], type_=postgresql.ARRAY(column.type))
        )
    if len(match) == 1:
        return match[0] == sa.any_(arrays[0])
    pairs = sa.select(sa.literal_column("*")).select_from(sa.func.unnest(*arrays).alias("keys"))
    return sa.tuple_(*match).in_(pairs)


def _per_parent_page(stmt: sa.Select, child: Relation, read, match) -> sa.Select:
    """Keep rows offset+1 .. offset+limit of each parent, in the embed's order."""
    number = sa.func.row_number().over(partition_by=match, order_by=order_clauses(child, read))
    ranked = stmt.add_columns(number.label("_pgfront_n")).order_by(None).subquery("ranked")
    kept = ranked.c._pgfront_n > read.offset
    if read.limit is not None:
        kept = sa.and_(kept, ranked.c._pgfront_n <= read.offset + read.limit)
    visible = [column for column in ranked.c if column.key != "_pgfront_n"]
    return sa.select(*visible).where(kept).order_by(ranked.c._pgfront_n)


def _key(row: dict, columns: tuple[str, ...]) -> tuple | None:
    """A row's values of the join columns (fetched hidden or selected), None if any is null."""
    values = tuple(row.get(HIDDEN + name, row.get(name)) for name in columns)
    return None if any(value is None for value in values) else values


def _drop_hidden(row: dict) -> None:
    """Remove the columns fetched only for joining."""
    for key in [key for key in row if key.startswith((HIDDEN, VIA))]:
        del row[key]
