"""What a read's filters and order say about its embeds: PostgREST's top-level filtering.

- An `!inner` embed keeps only the parent rows that have a matching embedded row, one that
  passes the embed's own filters (and has its own `!inner` embeds): `WHERE EXISTS (...)`.
- `clients=not.is.null` does the same for a plain embed, `clients=is.null` keeps the parents
  with no such row; both may stand inside `or=`/`and=` trees.
- `order=clients(name).desc` sorts the parents by a column of a to-one embed.

Each is a correlated subquery over an alias of the embedded table, so a table embedding
itself (`books?select=*,prequel:books!sequel_of!inner(*)`) compares the right rows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from db.catalog import Relation

from .api_error import ApiError
from .filters import condition_clause
from .grammar import Filter, GrammarError

if TYPE_CHECKING:
    from .plan import EmbedPlan

_RELATED_ORDER = re.compile(r"([^()]+)\(([^()]+)\)")


class Related:
    """The embeds of one level of a read, as its filters and order may name them."""

    def __init__(self, parent: Relation, plans: tuple[EmbedPlan, ...]):
        self.parent = parent
        self.plans = plans
        self.by_key = {plan.key: plan for plan in plans}

    def names(self, name: str) -> bool:
        """True when name is one of this level's embeds (by its key: alias or relation)."""
        return name in self.by_key

    def claims(self, flt: Filter) -> bool:
        """True when a filter is about an embed: its key, unless a column has that name too
        and the filter is not a null check (`id(...)` embedded, `id=eq.1` filters the column)."""
        if flt.column not in self.by_key:
            return False
        null_check = flt.op == "is" and flt.value in ("null", "not_null")
        return null_check or flt.column not in self.parent.table.columns

    def null_check(self, flt: Filter) -> sa.ColumnElement[bool]:
        """`embed=is.null` (no matching row) or `embed=not.is.null` (at least one)."""
        if flt.op != "is" or flt.value not in ("null", "not_null"):
            raise GrammarError(
                f"{flt.column!r} is an embedded relation: filter it with {flt.column}=is.null "
                f"or {flt.column}=not.is.null, or its columns with {flt.column}.column=op.value"
            )
        found = exists(self.parent.table, self.by_key[flt.column])
        return found if (flt.value == "not_null") != flt.negated else sa.not_(found)

    def inner(self) -> list[sa.ColumnElement[bool]]:
        """One EXISTS per `!inner` embed: the parent rows that have a matching row."""
        return [exists(self.parent.table, plan) for plan in self.plans if plan.embed.inner]

    def order_column(self, text: str) -> sa.ColumnElement:
        """`clients(name)` in order=: the to-one embed's column, for each parent row."""
        match = _RELATED_ORDER.fullmatch(text)
        if match is None or not self.names(match[1]):
            raise ApiError(
                400,
                f"order={text!r} names no embed of this request",
                code="PGRST108",
                hint="order by an embed's column as embed(column), with the embed in select=",
            )
        plan = self.by_key[match[1]]
        if plan.join.to_many:
            raise ApiError(
                400,
                f"A related order on '{match[1]}' is not possible",
                code="PGRST118",
                details=f"'{match[1]}' holds many rows per '{self.parent.name}' row",
                hint="order by a column of a to-one embed (many-to-one or one-to-one)",
            )
        column = plan.join.child.column(match[2])
        alias = plan.join.child.table.alias()
        source, related = _correlation(self.parent.table, plan, alias)
        return sa.select(alias.c[column.name]).select_from(source).where(related).scalar_subquery()


def exists(parent_table: sa.Table, plan: EmbedPlan) -> sa.Exists:
    """EXISTS a row of the embed related to the parent row, passing its filters and inner embeds."""
    child = plan.join.child
    alias = child.table.alias()
    inside = Related(child, plan.embeds)
    conditions = [condition_clause(child, c, inside) for c in plan.embed.read.filters]
    conditions += inside.inner()
    adapter = ClauseAdapter(alias)  # the filters name the table; the subquery reads an alias
    adapted = [adapter.traverse(condition) for condition in conditions]
    source, related = _correlation(parent_table, plan, alias)
    return sa.select(sa.literal_column("1")).select_from(source).where(related, *adapted).exists()


def _correlation(
    parent_table: sa.Table, plan: EmbedPlan, alias: sa.Alias
) -> tuple[sa.FromClause, sa.ColumnElement[bool]]:
    """What the subquery reads (the alias, joined to the junction for many-to-many), and the
    condition that relates it to the parent row."""
    join = plan.join
    if join.through is not None:  # its rows come from a call on the parent row, not a key
        raise ApiError(
            400,
            f"'{plan.key}' is a computed relationship: it embeds rows, but is no !inner "
            "embed, null check or order= key",
            code="PGRST100",
        )
    if join.junction is None:
        pairs = zip(join.parent_columns, join.child_columns, strict=True)
        return alias, sa.and_(*(alias.c[c] == parent_table.c[p] for p, c in pairs))
    spec = join.relationship.junction
    junction = join.junction.table.alias()
    to_child = zip(spec.target_columns, join.child_columns, strict=True)
    to_parent = zip(spec.source_columns, join.parent_columns, strict=True)
    joined = alias.join(junction, sa.and_(*(junction.c[j] == alias.c[c] for j, c in to_child)))
    return joined, sa.and_(*(junction.c[j] == parent_table.c[p] for j, p in to_parent))
