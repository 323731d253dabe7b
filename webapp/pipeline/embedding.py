"""Embedding related rows (`select=*,authors(*)`) along the relationships of the index.

Each embed is one relationship of db/relationships.py, found by parent, embedded relation
and `!hint`: many-to-one and one-to-one give an object (or null), one-to-many and
many-to-many a list; two or more candidates are PostgREST's 300 (PGRST201).

One query per embed per level, whatever the number of parent rows: the parents'
key values go into one `IN (...)` and the children are attached in Python, so they
are encoded exactly like top-level rows. A many-to-many embed's query joins the child to
the junction table, whose key columns say which parent each row belongs to. A per-parent
limit uses row_number().

A plain to-one embed (the parent's foreign key to one row, with no filters, order,
paging or embeds of its own) needs no query of its own: it is a LEFT JOIN in the
parent's statement, its columns selected under private labels and folded back into
one object per row.

All the embedded rows of one request share one budget (MAX_EMBED_ROWS): each embed's
query asks for at most the rows left plus one, so a request that wants more is refused
with a 413 having held no more than that many rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from db.catalog import Catalog, NotInCatalog, Relation
from db.functions import Function
from db.relationships import Cardinality, Relationship, relationships

from .api_error import ApiError
from .grammar import GrammarError
from .query import HIDDEN, build_select, order_clauses
from .reads import Embed, SelectItem
from .related import Related
from .rpc import called_on, computed_relationship
from .spread import make_room, spread_embeds

if TYPE_CHECKING:
    from .plan import EmbedPlan

JOINED = "_pgfront_embed_"  # prefix of the labels a joined embed's columns are selected under
VIA = "_pgfront_via_"  # prefix of the junction's columns a many-to-many embed's rows carry
# The planner's time grows steeply with the joins of one statement (50 LEFT JOINs took it
# seconds): past PostgreSQL's join_collapse_limit, a to-one embed gets a query of its own.
MAX_JOINED = 8


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


@dataclass(frozen=True)
class Join:
    """How embedded rows relate to their parent row: a relationship of the index, resolved."""

    relationship: Relationship
    child: Relation
    junction: Relation | None = None
    # A computed relationship: the child rows are the function called on this parent table.
    through: sa.FromClause | None = None

    @property
    def parent_columns(self) -> tuple[str, ...]:
        """The parent's columns whose values the embedded rows are matched on."""
        return self.relationship.source_columns

    @property
    def child_columns(self) -> tuple[str, ...]:
        """The child's columns that match them (through the junction for many-to-many)."""
        return self.relationship.target_columns

    @property
    def to_many(self) -> bool:
        """True when each parent row gets a list, False when it gets one object or null."""
        return self.relationship.to_many


def resolve_join(catalog: Catalog, parent: Relation, embed: Embed) -> Join:
    """The one relationship between parent and the embedded relation (a hint picks among several).

    The embed may name the relation, or instead one of the parent's foreign-key columns or a
    constraint between them (`author_id(*)`, `books_author_id_fkey(*)`), as PostgREST allows.
    """
    function = computed_relationship(catalog, parent, embed.relation)
    if function is not None:
        return _computed_join(catalog, parent, function)
    child, named = _embedded_relation(catalog, parent, embed)
    found = relationships(catalog).find(parent, child, embed.hint)
    if named is not None:
        found = tuple(rel for rel in found if named in rel.hint_names())
    if not found:
        raise ApiError(
            400,
            f"no foreign key relates {parent.qualified_name} and "
            f"{child.qualified_name}" + (f" by {embed.hint!r}" if embed.hint else ""),
            code="PGRST200",
        )
    if len(found) > 1:
        raise _ambiguous(parent, embed, found)
    (relationship,) = found
    junction = relationship.junction
    return Join(relationship, child, catalog.relations[junction.relation] if junction else None)


def _computed_join(catalog: Catalog, parent: Relation, function: Function) -> Join:
    """A function of the parent's row returning rows: matched back by the parent's primary key."""
    child, through = called_on(catalog, function, parent)
    key = catalog.relations[(parent.schema, parent.name)].primary_key
    relationship = Relationship(
        source=(parent.schema, parent.name),
        target=function.returns_relation,
        cardinality=Cardinality.ONE_TO_MANY if function.returns_set else Cardinality.MANY_TO_ONE,
        constraint=function.name,
        source_columns=key,
        target_columns=key,
    )
    return Join(relationship, child, through=through)


def _ambiguous(parent: Relation, embed: Embed, found: tuple[Relationship, ...]) -> ApiError:
    """PostgREST's 300: each relationship that could be meant, and the hint that picks it."""
    return ApiError(
        300,
        "Could not embed because more than one relationship was found for "
        f"'{parent.name}' and '{embed.relation}'",
        code="PGRST201",
        details=[
            {
                "cardinality": str(rel.cardinality),
                "embedding": f"{parent.name} with {embed.relation}",
                "relationship": _described(rel),
            }
            for rel in found
        ],
        hint=f"Try changing '{embed.relation}' to one of the following: "
        + ", ".join(f"'{embed.relation}!{rel.suggested_hint()}'" for rel in found)
        + ". Find the desired relationship in the 'details' key.",
    )


def _described(rel: Relationship) -> str:
    """A relationship as PostgREST spells it: constraint (or junction) using which columns."""
    if rel.junction is not None:
        junction = rel.junction
        return (
            f"{junction.relation[1]} using {junction.source_constraint}"
            f"({', '.join(junction.source_columns)}) and {junction.target_constraint}"
            f"({', '.join(junction.target_columns)})"
        )
    return (
        f"{rel.constraint} using {rel.source[1]}({', '.join(rel.source_columns)})"
        f" and {rel.target[1]}({', '.join(rel.target_columns)})"
    )


def _embedded_relation(
    catalog: Catalog, parent: Relation, embed: Embed
) -> tuple[Relation, str | None]:
    """The embedded relation (parent's schema, else the default one), and the key it was named by.

    Else a relation of another served schema related to the parent by that name; else a
    foreign-key column of the parent or a constraint name leads to the relation at its other
    end, and that name then also picks the relationship.
    """
    for schema in (parent.schema, None):
        try:
            return catalog.relation(embed.relation, schema), None
        except NotInCatalog:
            pass
    related = relationships(catalog).of(parent)
    # A related relation of another served schema (reporting.loan_events from loans).
    elsewhere = {rel.target for rel in related if rel.target[1] == embed.relation}
    if len(elsewhere) == 1:
        return catalog.relations[elsewhere.pop()], None
    named = tuple(rel for rel in related if _named_by(rel, embed.relation))
    if len({rel.target for rel in named}) > 1:
        raise _ambiguous(parent, embed, named)
    if not named:  # PostgREST's PGRST200: no relationship, as there is no such relation
        raise ApiError(
            400,
            f"Could not find a relationship between '{parent.name}' and '{embed.relation}' "
            "in the schema cache",
            code="PGRST200",
            details=f"no served table or view, nor a foreign key, is called {embed.relation!r}",
        )
    return catalog.relations[named[0].target], embed.relation


def _named_by(rel: Relationship, name: str) -> bool:
    """True when name is the relationship's constraint, or its one column on the parent's side."""
    return rel.junction is None and (name == rel.constraint or rel.source_columns == (name,))


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
