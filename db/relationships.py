"""The foreign keys between served relations: the one index that embedding, row pages,
structure links, the diagram, OpenAPI and the automap classes follow.

A foreign key is in it only when both ends are served and none of its columns, at
either end, is hidden: a key into a hidden table or a hidden column is not followed,
linked, drawn or described anywhere. Built once per catalog snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from .catalog import Catalog, Relation


@dataclass(frozen=True, eq=False)
class ForeignKey:
    """One served foreign key: source columns -> target columns, in key order."""

    name: str
    source: Relation
    columns: tuple[str, ...]
    target: Relation
    target_columns: tuple[str, ...]
    constraint: sa.ForeignKeyConstraint


@dataclass(frozen=True)
class _Index:
    """The served foreign keys of a snapshot, by the relation they leave and the one they enter."""

    outgoing: dict[tuple[str, str], tuple[ForeignKey, ...]]
    incoming: dict[tuple[str, str], tuple[ForeignKey, ...]]


def foreign_keys_from(catalog: Catalog, relation: Relation) -> tuple[ForeignKey, ...]:
    """The served foreign keys of relation, in its table's constraint order."""
    return _index(catalog).outgoing.get((relation.schema, relation.name), ())


def foreign_keys_to(catalog: Catalog, relation: Relation) -> tuple[ForeignKey, ...]:
    """The served foreign keys of every relation that point at relation."""
    return _index(catalog).incoming.get((relation.schema, relation.name), ())


def _index(catalog: Catalog) -> _Index:
    """The snapshot's index, built on first use."""
    return catalog.derived("foreign keys", lambda: _build(catalog))


def _build(catalog: Catalog) -> _Index:
    """Every foreign key of every served relation whose ends are served, over served columns."""
    outgoing: dict[tuple[str, str], list[ForeignKey]] = {}
    incoming: dict[tuple[str, str], list[ForeignKey]] = {}
    for key, source in catalog.relations.items():
        for constraint in source.table.foreign_key_constraints:
            target = catalog.relation_of(constraint.referred_table)
            columns = tuple(column.name for column in constraint.columns)
            target_columns = tuple(element.column.name for element in constraint.elements)
            if target is None or not source.hidden.isdisjoint(columns):
                continue
            if not target.hidden.isdisjoint(target_columns):
                continue
            fk = ForeignKey(
                constraint.name or "", source, columns, target, target_columns, constraint
            )
            outgoing.setdefault(key, []).append(fk)
            incoming.setdefault((target.schema, target.name), []).append(fk)
    return _Index(
        {key: tuple(fks) for key, fks in outgoing.items()},
        {key: tuple(fks) for key, fks in incoming.items()},
    )
