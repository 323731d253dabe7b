"""Relationships as the pages show them: labelled links out of a row, references into it, and
the rows it relates to many-to-many through a junction table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from db.catalog import Catalog, Relation
from db.relationships import Relationship, relationships
from db.session import Session

from .coercion import python_type
from .counts import capped_count

# Column names that usually say what a row is, best first.
_LABEL_NAMES = ("name", "title", "label", "display_name", "full_name", "username", "code", "slug")


@dataclass(frozen=True)
class ForeignLink:
    """An outgoing foreign key: local columns -> the target's columns, and its label column."""

    columns: tuple[str, ...]
    target: Relation
    target_columns: tuple[str, ...]
    label: str | None

    @property
    def to_primary_key(self) -> bool:
        """True when the key points at the target's primary key (so a row page exists)."""
        return self.target_columns == self.target.primary_key


@dataclass(frozen=True)
class Reference:
    """An incoming foreign key: rows of source whose columns hold this row's target columns."""

    source: Relation
    columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    name: str


def foreign_links(
    catalog: Catalog, relation: Relation, labels: Mapping[tuple[str, str], str]
) -> list[ForeignLink]:
    """The relation's foreign keys to served tables, over served columns."""
    links = []
    for rel in relationships(catalog).foreign_keys(relation):
        target = catalog.relations[rel.target]
        label = label_column(target, labels)
        links.append(ForeignLink(rel.source_columns, target, rel.target_columns, label))
    return links


def references_to(catalog: Catalog, relation: Relation) -> list[Reference]:
    """Every served table's foreign keys that point at relation, over served columns."""
    found = []
    for rel in relationships(catalog).references(relation):
        source = catalog.relations[rel.source]
        if not source.is_partition:  # the partitioned parent already counts these rows
            found.append(Reference(source, rel.source_columns, rel.target_columns, rel.constraint))
    return sorted(found, key=lambda ref: (ref.source.qualified_name, ref.columns))


@dataclass(frozen=True)
class Neighbours:
    """A many-to-many relationship: rows of target related to this row through junction."""

    relationship: Relationship
    target: Relation
    junction: Relation
    label: str | None

    @property
    def to_primary_key(self) -> bool:
        """True when the junction points at the target's primary key (so row pages exist)."""
        return self.relationship.target_columns == self.target.primary_key


def many_to_many(
    catalog: Catalog, relation: Relation, labels: Mapping[tuple[str, str], str]
) -> list[Neighbours]:
    """The relation's many-to-many relationships through junction tables, by target and junction."""
    found = []
    for rel in relationships(catalog).many_to_many(relation):
        target, junction = catalog.relations[rel.target], catalog.relations[rel.junction.relation]
        found.append(Neighbours(rel, target, junction, label_column(target, labels)))
    return sorted(found, key=lambda n: (n.target.qualified_name, n.junction.qualified_name))


def fetch_neighbours(neighbours: Neighbours, values: tuple, cap: int) -> list[tuple]:
    """The key values (and label, last) of at most cap + 1 related rows, in key order."""
    rel, target, junction = neighbours.relationship, neighbours.target, neighbours.junction
    spec = rel.junction
    keys = [target.column(name) for name in rel.target_columns]
    label = [target.column(neighbours.label)] if neighbours.label else [sa.null()]
    on = [
        junction.table.c[j] == column for j, column in zip(spec.target_columns, keys, strict=True)
    ]
    where = [
        junction.table.c[j] == value for j, value in zip(spec.source_columns, values, strict=True)
    ]
    stmt = (
        sa.select(*keys, *label)
        .select_from(target.table.join(junction.table, sa.and_(*on)))
        .where(*where)
        .order_by(*keys)
        .limit(cap + 1)
    )
    return [tuple(row) for row in Session.execute(stmt)]


def label_column(relation: Relation, labels: Mapping[tuple[str, str], str]) -> str | None:
    """The configured label column of relation, else a name-like text column, else None."""
    configured = labels.get((relation.schema, relation.name))
    if configured and configured in relation.table.columns and configured not in relation.hidden:
        return configured
    texts = [
        column.name
        for column in relation.columns
        if _is_text(column) and column.name not in relation.primary_key
    ]
    named = _name_like(texts)
    if named is not None:
        return named
    # A table of a key and one text column (a lookup table) is labelled by that column;
    # elsewhere a guess (the first text column) would mislead more than no label does.
    others = [c for c in relation.columns if c.name not in relation.primary_key]
    return texts[0] if len(texts) == 1 and len(others) == 1 else None


def _name_like(texts: list[str]) -> str | None:
    """The first column named like a label (name, title, ...), else one whose name holds one."""
    for wanted in _LABEL_NAMES:
        for name in texts:
            if name.lower() == wanted:
                return name
    for name in texts:
        if any(wanted in name.lower() for wanted in _LABEL_NAMES):
            return name
    return None


def _is_text(column: sa.Column) -> bool:
    """True for text-like columns (text, varchar, citext, enums), not JSON or arrays."""
    return python_type(column) is str


def fetch_labels(link: ForeignLink, keys: set[tuple]) -> dict[tuple, str]:
    """Labels of the target rows with these keys: one query for the whole page."""
    if link.label is None or not keys:
        return {}
    target = link.target
    key_columns = [target.column(name) for name in link.target_columns]
    match = (
        key_columns[0].in_([key[0] for key in keys])
        if len(key_columns) == 1
        else sa.tuple_(*key_columns).in_(list(keys))
    )
    stmt = sa.select(*key_columns, target.column(link.label)).where(match)
    return {tuple(row[:-1]): row[-1] for row in Session.execute(stmt) if row[-1] is not None}


def referencing_count(reference: Reference, values: tuple, cap: int) -> int:
    """How many rows of the source point at values, counting at most cap + 1."""
    source = reference.source
    where = [source.column(n) == v for n, v in zip(reference.columns, values, strict=True)]
    rows = sa.select(sa.literal(1)).select_from(source.table).where(*where)
    return capped_count(Session.connection(), rows, cap)
