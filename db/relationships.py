"""Relationships between served relations, computed once per catalog snapshot.

Every foreign key between two served relations is one relationship seen from both sides:
many-to-one from the referencing side, one-to-many from the referenced side, or one-to-one
on both when the referencing columns are unique. A table with foreign keys to two
relations, whose columns of both keys lie in one of its unique keys (the primary key or a
unique constraint or index), is a junction: the two relations are many-to-many through it.
These are PostgREST's rules; a `!hint` may name a relationship by its constraint, its
referencing columns or its junction.

A foreign key is left out when its target is not served (another schema, or HIDDEN) or
when it runs through a hidden column: nothing may be followed or described through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # catalog.py imports models.py, which reads this index
    from .catalog import Catalog, Relation

RelationKey = tuple[str, str]  # (schema, name)


class Cardinality(StrEnum):
    """How many rows of the target one row of the source relates to, and back."""

    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    ONE_TO_ONE = "one-to-one"
    MANY_TO_MANY = "many-to-many"


@dataclass(frozen=True)
class Junction:
    """The table that relates two relations many-to-many, with its two foreign keys."""

    relation: RelationKey
    source_constraint: str
    target_constraint: str
    # junction columns that hold the source's and the target's key values
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Relationship:
    """One way from a source relation to a target relation, and how rows match."""

    source: RelationKey
    target: RelationKey
    cardinality: Cardinality
    constraint: str
    # rows match where source_columns = target_columns (through the junction for many-to-many:
    # source.source_columns = junction.source_columns, junction.target_columns = target.target_columns)
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    junction: Junction | None = None

    @property
    def to_many(self) -> bool:
        """True when one source row relates to a list of target rows."""
        return self.cardinality in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_MANY)

    @property
    def is_self_reference(self) -> bool:
        """True when a relation relates to itself."""
        return self.source == self.target

    def hint_names(self) -> frozenset[str]:
        """The names a `!hint` may use to pick this relationship."""
        if self.junction is not None:
            return frozenset(
                (
                    self.junction.relation[1],
                    self.junction.source_constraint,
                    self.junction.target_constraint,
                )
            )
        referencing = (
            self.source_columns
            if self.cardinality in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_ONE)
            else self.target_columns
        )
        return frozenset((self.constraint, *referencing))


@dataclass(frozen=True)
class RelationshipIndex:
    """Every relationship of a snapshot, by source relation."""

    by_source: dict[RelationKey, tuple[Relationship, ...]] = field(default_factory=dict)

    def of(self, source: Relation | RelationKey) -> tuple[Relationship, ...]:
        """The relationships leading out of source."""
        return self.by_source.get(_key(source), ())

    def between(
        self, source: Relation | RelationKey, target: Relation | RelationKey
    ) -> tuple[Relationship, ...]:
        """The relationships from source to target."""
        target = _key(target)
        return tuple(rel for rel in self.of(source) if rel.target == target)

    def into(self, target: Relation | RelationKey) -> tuple[Relationship, ...]:
        """The relationships leading into target from any relation (its back-references)."""
        target = _key(target)
        return tuple(
            rel for rels in self.by_source.values() for rel in rels if rel.target == target
        )


def relationships(catalog: Catalog) -> RelationshipIndex:
    """The snapshot's relationship index, built on first use and kept with the snapshot."""
    return catalog.derived("relationships", lambda: build_index(catalog))


def build_index(catalog: Catalog) -> RelationshipIndex:
    """Compute every relationship of the served relations (see the module docstring)."""
    direct = list(_direct(catalog))
    found: dict[RelationKey, list[Relationship]] = {}
    for rel in (*direct, *_through_junctions(catalog, direct)):
        found.setdefault(rel.source, []).append(rel)
    return RelationshipIndex({source: tuple(rels) for source, rels in found.items()})


def _direct(catalog: Catalog) -> Iterator[Relationship]:
    """Each usable foreign key, as a relationship both ways."""
    for relation in catalog.relations.values():
        for fk in sorted(relation.table.foreign_key_constraints, key=_constraint_name):
            target = catalog.relation_of(fk.referred_table)
            if target is None:
                continue  # not served: another schema, or HIDDEN
            local = tuple(column.name for column in fk.columns)
            remote = tuple(element.column.name for element in fk.elements)
            if set(local) & relation.hidden or set(remote) & target.hidden:
                continue
            one_to_one = _is_unique(relation.table, local)
            name = _constraint_name(fk)
            yield Relationship(
                _key(relation),
                _key(target),
                Cardinality.ONE_TO_ONE if one_to_one else Cardinality.MANY_TO_ONE,
                name,
                local,
                remote,
            )
            yield Relationship(
                _key(target),
                _key(relation),
                Cardinality.ONE_TO_ONE if one_to_one else Cardinality.ONE_TO_MANY,
                name,
                remote,
                local,
            )


def _through_junctions(catalog: Catalog, direct: list[Relationship]) -> Iterator[Relationship]:
    """Many-to-many relationships through each junction table, both ways."""
    outgoing: dict[RelationKey, list[Relationship]] = {}
    for rel in direct:
        if rel.cardinality in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_ONE):
            outgoing.setdefault(rel.source, []).append(rel)
    for junction_key, keys in outgoing.items():
        table = catalog.relations[junction_key].table
        for left in keys:
            for right in keys:
                if left is right or not _junction_columns(table, left, right):
                    continue
                yield Relationship(
                    left.target,
                    right.target,
                    Cardinality.MANY_TO_MANY,
                    left.constraint,
                    left.target_columns,
                    right.target_columns,
                    Junction(
                        junction_key,
                        left.constraint,
                        right.constraint,
                        left.source_columns,
                        right.source_columns,
                    ),
                )


def _junction_columns(table: sa.Table, left: Relationship, right: Relationship) -> bool:
    """True when both foreign keys' columns lie within one unique key of the junction table."""
    wanted = set(left.source_columns) | set(right.source_columns)
    return any(wanted <= set(key) for key in _unique_keys(table))


def _is_unique(table: sa.Table, columns: Iterable[str]) -> bool:
    """True when a unique key of table consists of exactly these columns (so at most one row)."""
    wanted = set(columns)
    return any(set(key) <= wanted for key in _unique_keys(table) if key)


def _unique_keys(table: sa.Table) -> list[tuple[str, ...]]:
    """The primary key, unique constraints and plain unique indexes of table, as column names."""
    keys = [tuple(column.name for column in table.primary_key.columns)]
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            keys.append(tuple(column.name for column in constraint.columns))
    for index in table.indexes:
        # a partial or expression index does not make the columns unique
        partial = index.dialect_options["postgresql"].get("where") is not None
        plain = all(isinstance(expr, sa.Column) for expr in index.expressions)
        if index.unique and plain and not partial:
            keys.append(tuple(column.name for column in index.columns))
    return [key for key in keys if key]


def _constraint_name(fk: sa.ForeignKeyConstraint) -> str:
    """The constraint's name (PostgreSQL names every one)."""
    return fk.name or "_".join(column.name for column in fk.columns)


def _key(relation: Relation | RelationKey) -> RelationKey:
    """(schema, name) of a relation."""
    return relation if isinstance(relation, tuple) else (relation.schema, relation.name)


def is_served(catalog: Catalog, relation: Relation, fk: sa.ForeignKeyConstraint) -> bool:
    """True when relation's foreign key fk is in the index: its target served, no column hidden.

    What follows a Table's own foreign keys (embedding, OpenAPI, the automap classes) asks
    this, so a key into a hidden table or column is followed nowhere.
    """
    name, local = _constraint_name(fk), tuple(column.name for column in fk.columns)
    return any(
        rel.junction is None and rel.constraint == name and rel.source_columns == local
        for rel in relationships(catalog).of(relation)
    )
