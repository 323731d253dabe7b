"""Relationships between served relations, computed once per catalog snapshot.

Every foreign key between two served relations is one relationship seen from both sides:
many-to-one from the referencing side, one-to-many from the referenced side, or one-to-one
on both when the referencing columns are unique. A table with foreign keys to two
relations, whose columns of both keys lie in one of its unique keys (the primary key or a
unique constraint or index), is a junction: the two relations are many-to-many through it.
A view that shows every column of a key of a base table (`Catalog.view_columns`) has that
key's relationships too, as source and as target, so views embed and are embedded.
These are PostgREST's rules; a `!hint` may name a relationship by its constraint, its
columns or its junction.

A foreign key is left out when its target is not served (another schema, or HIDDEN) or
when it runs through a hidden column, and a view's relationship when the view column
showing the key is hidden: nothing may be followed or described through them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # catalog.py imports models.py, which reads this index
    from .catalog import Catalog, Relation

RelationKey = tuple[str, str]  # (schema, name)
# base relation -> view -> base column -> the view's columns showing it
Exposures = Mapping[RelationKey, Mapping[RelationKey, Mapping[str, list[str]]]]


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
    # True when the source's columns hold the foreign key (the source references the target)
    holds_key: bool = False
    # True when an end is a view, related through the base-table key its columns show
    via_view: bool = False
    # the table's own constraint, for what SQLAlchemy must be handed (automap); None via views
    foreign_key: sa.ForeignKeyConstraint | None = field(default=None, compare=False, repr=False)

    @property
    def to_many(self) -> bool:
        """True when one source row relates to a list of target rows."""
        return self.cardinality in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_MANY)

    @property
    def is_self_reference(self) -> bool:
        """True when a relation relates to itself."""
        return self.source == self.target

    @property
    def is_foreign_key(self) -> bool:
        """True for a table's own foreign key, seen from the table that holds it."""
        return self.holds_key and self.junction is None and not self.via_view

    @property
    def referencing_columns(self) -> tuple[str, ...]:
        """The columns that hold the foreign key, on whichever side (a junction's: none)."""
        if self.junction is not None:
            return ()
        return self.source_columns if self.holds_key else self.target_columns

    @property
    def referenced_columns(self) -> tuple[str, ...]:
        """The key the foreign key points at, on whichever side (a junction's: none)."""
        if self.junction is not None:
            return ()
        return self.target_columns if self.holds_key else self.source_columns

    def hint_names(self) -> frozenset[str]:
        """The names a `!hint` may use to pick this relationship."""
        if self.junction is not None:
            junction = self.junction
            return frozenset(
                (junction.relation[1], junction.source_constraint, junction.target_constraint)
            )
        if self.is_self_reference:
            # Both directions of one key: the column picks the referenced row, the
            # constraint the referencing rows.
            return frozenset(self.source_columns if self.holds_key else (self.constraint,))
        referenced = self.referenced_columns if len(self.referenced_columns) == 1 else ()
        return frozenset((self.constraint, *self.referencing_columns, *referenced))

    def suggested_hint(self) -> str:
        """The one name to suggest for picking this relationship among several."""
        if self.junction is not None:
            return self.junction.relation[1]
        if self.is_self_reference and self.holds_key:
            return self.source_columns[0]
        return self.constraint


@dataclass(frozen=True)
class RelationshipIndex:
    """Every relationship of a snapshot, by source, by target and by the pair."""

    by_source: Mapping[RelationKey, tuple[Relationship, ...]] = field(default_factory=dict)
    by_target: Mapping[RelationKey, tuple[Relationship, ...]] = field(default_factory=dict)
    by_pair: Mapping[tuple[RelationKey, RelationKey], tuple[Relationship, ...]] = field(
        default_factory=dict
    )

    @classmethod
    def collect(cls, found: Iterable[Relationship]) -> RelationshipIndex:
        """The index of these relationships, each list in the order given."""
        by_source: dict[RelationKey, list[Relationship]] = {}
        by_target: dict[RelationKey, list[Relationship]] = {}
        by_pair: dict[tuple[RelationKey, RelationKey], list[Relationship]] = {}
        for rel in found:
            by_source.setdefault(rel.source, []).append(rel)
            by_target.setdefault(rel.target, []).append(rel)
            by_pair.setdefault((rel.source, rel.target), []).append(rel)
        return cls(_frozen(by_source), _frozen(by_target), _frozen(by_pair))

    def of(self, source: Relation | RelationKey) -> tuple[Relationship, ...]:
        """The relationships leading out of source."""
        return self.by_source.get(_key(source), ())

    def between(
        self, source: Relation | RelationKey, target: Relation | RelationKey
    ) -> tuple[Relationship, ...]:
        """The relationships from source to target."""
        return self.by_pair.get((_key(source), _key(target)), ())

    def into(self, target: Relation | RelationKey) -> tuple[Relationship, ...]:
        """The relationships leading into target from any relation."""
        return self.by_target.get(_key(target), ())

    def find(
        self,
        source: Relation | RelationKey,
        target: Relation | RelationKey,
        hint: str | None = None,
    ) -> tuple[Relationship, ...]:
        """The relationships from source to target that hint names (all of them without one)."""
        found = self.between(source, target)
        return found if hint is None else tuple(rel for rel in found if hint in rel.hint_names())

    def foreign_keys(self, source: Relation | RelationKey) -> tuple[Relationship, ...]:
        """Source's own foreign keys to served relations, over served columns."""
        return tuple(rel for rel in self.of(source) if rel.is_foreign_key)

    def references(self, target: Relation | RelationKey) -> tuple[Relationship, ...]:
        """Other tables' foreign keys into target, each seen from the table that holds it."""
        return tuple(rel for rel in self.into(target) if rel.is_foreign_key)

    def many_to_many(self, source: Relation | RelationKey) -> tuple[Relationship, ...]:
        """Source's many-to-many relationships through a junction table between two tables."""
        return tuple(
            rel
            for rel in self.of(source)
            if rel.cardinality is Cardinality.MANY_TO_MANY and not rel.via_view
        )


def relationships(catalog: Catalog) -> RelationshipIndex:
    """The snapshot's relationship index, built on first use and kept with the snapshot."""
    return catalog.derived("relationships", lambda: build_index(catalog))


def build_index(catalog: Catalog) -> RelationshipIndex:
    """Compute every relationship of the served relations (see the module docstring)."""
    direct = list(_direct(catalog))
    keyed = direct + list(_through_views(catalog, direct))
    return RelationshipIndex.collect((*keyed, *_through_junctions(catalog, keyed)))


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
            yield from _both_ways(
                _key(relation),
                _key(target),
                _constraint_name(fk),
                (local, remote),
                one_to_one=_is_unique(relation.table, local),
                foreign_key=fk,
            )


def _both_ways(
    source: RelationKey,
    target: RelationKey,
    constraint: str,
    columns: tuple[tuple[str, ...], tuple[str, ...]],
    *,
    one_to_one: bool,
    via_view: bool = False,
    foreign_key: sa.ForeignKeyConstraint | None = None,
) -> Iterator[Relationship]:
    """A foreign key from source's columns to target's, as the relationship each way."""
    local, remote = columns
    yield Relationship(
        source,
        target,
        Cardinality.ONE_TO_ONE if one_to_one else Cardinality.MANY_TO_ONE,
        constraint,
        local,
        remote,
        holds_key=True,
        via_view=via_view,
        foreign_key=foreign_key,
    )
    yield Relationship(
        target,
        source,
        Cardinality.ONE_TO_ONE if one_to_one else Cardinality.ONE_TO_MANY,
        constraint,
        remote,
        local,
        via_view=via_view,
        foreign_key=foreign_key,
    )


def _through_views(catalog: Catalog, direct: list[Relationship]) -> Iterator[Relationship]:
    """Each foreign key again for the views that show its columns: view-table, table-view, view-view.

    A view showing a key column twice has a relationship per choice of columns, as in PostgREST.
    """
    exposures = _exposures(catalog)
    if not exposures:
        return
    for rel in direct:
        if not rel.holds_key:
            continue
        one = rel.cardinality is Cardinality.ONE_TO_ONE
        sources = list(_showing(exposures, rel.source, rel.source_columns))
        targets = list(_showing(exposures, rel.target, rel.target_columns))
        ends = [((view, shown), (rel.target, rel.target_columns)) for view, shown in sources]
        ends += [((rel.source, rel.source_columns), (view, shown)) for view, shown in targets]
        ends += list(itertools.product(sources, targets))
        for (source, local), (target, remote) in ends:
            yield from _both_ways(
                source, target, rel.constraint, (local, remote), one_to_one=one, via_view=True
            )


def _exposures(catalog: Catalog) -> Exposures:
    """Which served view columns show which base-table columns, hidden view columns left out."""
    found: dict[RelationKey, dict[RelationKey, dict[str, list[str]]]] = {}
    for view_key, shown in catalog.view_columns.items():
        view = catalog.relations.get(view_key)
        if view is None:
            continue  # not served (hidden)
        for view_column, (schema, name, column) in shown.items():
            base = catalog.relations.get((schema, name))
            if base is None or base.is_view or view_column in view.hidden:
                continue
            columns = found.setdefault((schema, name), {}).setdefault(view_key, {})
            columns.setdefault(column, []).append(view_column)
    return found


def _showing(
    exposures: Exposures, base: RelationKey, columns: tuple[str, ...]
) -> Iterator[tuple[RelationKey, tuple[str, ...]]]:
    """Each view that shows all of base's columns, with its columns (every choice of them)."""
    for view, by_column in exposures.get(base, {}).items():
        if all(column in by_column for column in columns):
            for shown in itertools.product(*(by_column[column] for column in columns)):
                yield view, shown


def _through_junctions(catalog: Catalog, keyed: list[Relationship]) -> Iterator[Relationship]:
    """Many-to-many relationships through each junction table, both ways."""
    outgoing: dict[RelationKey, list[Relationship]] = {}
    for rel in keyed:
        if rel.holds_key and not catalog.relations[rel.source].is_view:
            outgoing.setdefault(rel.source, []).append(rel)
    for junction_key, keys in outgoing.items():
        table = catalog.relations[junction_key].table
        for left, right in itertools.permutations(keys, 2):
            if left.constraint == right.constraint or not _junction_columns(table, left, right):
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
                via_view=left.via_view or right.via_view,
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


def _frozen(found: dict) -> Mapping:
    """found with its lists as tuples, read-only."""
    return MappingProxyType({key: tuple(values) for key, values in found.items()})
