"""Which relationship an embed follows: resolved once per embed, when the read is planned.

Each embed is one relationship of db/relationships.py, found by parent, embedded relation
(or a foreign-key column or constraint naming it) and `!hint`; two or more candidates are
PostgREST's 300 (PGRST201), none its 400 (PGRST200). A function of the parent's row that
returns rows of a served relation is a computed relationship, embedded by its name.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from db.catalog import Catalog, NotInCatalog, Relation
from db.functions import Function
from db.relationships import Cardinality, Relationship, relationships

from .api_error import ApiError
from .reads import Embed
from .rpc import called_on, computed_relationship


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
