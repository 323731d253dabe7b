"""Automap classes over a catalog snapshot's own tables: objects, for teams who want them.

Each class is mapped to the very `Table` the catalog reflected (so `select(Books)` and
`catalog.table("books")` mix freely), and each foreign key becomes a many-to-one
attribute on the referring class and a collection on the referred one. A snapshot
builds its classes once, on first use (`Catalog.models()`); a reload brings a new
snapshot and new classes, while code holding the old ones keeps working with them.
Tables without a primary key, views and partitions get no class: use their Table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.ext.automap import generate_relationship as automap_relationship

from .relationships import relationships

if TYPE_CHECKING:
    from .catalog import Catalog

log = logging.getLogger("db.models")

# Declarative refuses these as attribute names; a table with such a column gets no class.
RESERVED_NAMES = frozenset({"metadata", "registry"})
# The name automap is given for a foreign key that is not served (see db/relationships.py).
_NOT_SERVED = "_pgfront_not_served"


@dataclass(frozen=True, eq=False)
class Link:
    """One foreign key between two mapped tables, as the naming hook sees it."""

    local: sa.Table  # the referring table
    referred: sa.Table  # the referred table, as the catalog serves it
    columns: tuple[str, ...]  # the referring columns, in key order
    constraint: sa.ForeignKeyConstraint
    ambiguous: bool  # one of several keys from local to referred
    self_reference: bool
    default_schema: str
    long_form: bool = False  # the short name is taken: name it with its columns


class ModelNaming:
    """How classes and relationships are named; subclass it and override one rule to change it."""

    def class_name(self, table: sa.Table, default_schema: str) -> str:
        """books -> Books, loan_events -> LoanEvents; other schemas lead: ReportingLoanEvents."""
        words = _words(table.name)
        if table.schema != default_schema:
            words = _words(table.schema or "") + words
        name = "".join(word[:1].upper() + word[1:] for word in words) or "Table"
        return name if name[0].isalpha() else f"T{name}"

    def scalar_name(self, link: Link) -> str:
        """The many-to-one attribute: author_id -> author, else the referred table (copies).

        The long form leads with the columns (books.sequel_of -> sequel_of_books); it names
        a key without `_id` that is ambiguous or a self-reference, and any key whose short
        name is taken.
        """
        (first, *more) = link.columns
        if not more and first.endswith("_id") and len(first) > 3 and not link.long_form:
            return _snake(first[:-3])
        referred = _snake(self.table_word(link.referred, link.default_schema))
        if link.long_form or link.ambiguous or link.self_reference:
            return f"{_snake('_'.join(link.columns))}_{referred}"
        return referred

    def collection_name(self, link: Link) -> str:
        """The one-to-many attribute: the referring table (books); long form: moves_by_from_site."""
        name = _snake(self.table_word(link.local, link.default_schema))
        if link.long_form or link.ambiguous:
            return f"{name}_by_{_snake('_'.join(link.columns))}"
        return name

    def table_word(self, table: sa.Table, default_schema: str) -> str:
        """A table as part of an attribute name: its name, with its schema outside the default one."""
        return table.name if table.schema == default_schema else f"{table.schema}_{table.name}"


class Model:
    """The base of every automap class: an object prints as its table and primary key.

    `<books id=3f2c...>`, `<copies book_id=3f2c... copy_no=2>`, `<reporting.loan_events ...>`
    outside the default schema. Never the other columns (HIDDEN ones included), and never a
    query: the key comes from the identity map, or from what a new object was given.
    """

    _repr_name = "row"  # each class sets its table's name

    def __repr__(self) -> str:
        mapper, state = sa.inspect(type(self)), sa.inspect(self)
        columns = mapper.primary_key
        values = state.identity or tuple(
            state.dict.get(mapper.get_property_by_column(column).key) for column in columns
        )
        keys = " ".join(f"{c.name}={_key_text(v)}" for c, v in zip(columns, values, strict=True))
        return f"<{self._repr_name} {keys}>"


def _key_text(value: Any) -> str:
    """A key value as it reads: 'text' quoted, dates in ISO form, numbers and uuids as they are."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class Models:
    """The classes of one snapshot: models.Books, models["books"], models["reporting.loan_events"]."""

    def __init__(self, base: Any, by_table: dict[tuple[str, str], type], default_schema: str):
        self.base = base
        self._by_table = by_table
        self._by_name = {cls.__name__: cls for cls in by_table.values()}
        self._default_schema = default_schema

    def __getattr__(self, name: str) -> type:
        """The class called name (models.Books)."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(f"no mapped class {name!r}; there are {self.names()}") from None

    def __getitem__(self, table_name: str) -> type:
        """The class of a table: "books" (default schema) or "reporting.loan_events"."""
        schema, _, name = table_name.rpartition(".")
        try:
            return self._by_table[(schema or self._default_schema, name)]
        except KeyError:
            raise KeyError(f"no mapped class for table {table_name!r}") from None

    def __iter__(self) -> Iterator[type]:
        """The classes, ordered by schema and table name."""
        return iter(self._by_table[key] for key in sorted(self._by_table))

    def __len__(self) -> int:
        """How many classes there are."""
        return len(self._by_table)

    def __dir__(self) -> list[str]:
        """The class names (for completion in the shell)."""
        return sorted(self._by_name)

    def names(self) -> str:
        """The class names, comma-separated, for messages."""
        return ", ".join(sorted(self._by_name)) or "none"


def build_models(catalog: Catalog, naming: ModelNaming | None = None) -> Models:
    """Automap classes for every table of the snapshot that has a primary key."""
    naming = naming or ModelNaming()
    base = automap_base(metadata=sa.MetaData(), cls=Model)
    tables = _mappable(catalog)
    links = _links(catalog, tables)
    names = _relationship_names(links, naming)
    classes = _declare_classes(base, catalog, tables, naming)
    by_constraint = {link.constraint: link for link in links}
    by_attribute = {(link.local, scalar): link for link, (scalar, _) in names.items()}
    by_attribute.update({(link.referred, coll): link for link, (_, coll) in names.items()})

    def scalar_name(base, local_cls, referred_cls, constraint) -> str:
        link = by_constraint.get(constraint)
        return names[link][0] if link else _NOT_SERVED

    def collection_name(base, local_cls, referred_cls, constraint) -> str:
        link = by_constraint.get(constraint)
        return names[link][1] if link else _NOT_SERVED

    def generate(base, direction, return_fn, attrname, local_cls, referred_cls, **kw):
        if attrname == _NOT_SERVED:
            return None  # a key over hidden columns: automap makes no relationship of it
        overlaps = _overlaps(by_attribute[(local_cls.__table__, attrname)], links, names)
        if overlaps:
            kw["overlaps"] = overlaps
        return automap_relationship(
            base, direction, return_fn, attrname, local_cls, referred_cls, **kw
        )

    base.prepare(
        name_for_scalar_relationship=scalar_name,
        name_for_collection_relationship=collection_name,
        generate_relationship=generate,
    )
    _add_cross_schema_relationships(classes, links, names)
    base.registry.configure()  # mistakes surface here, not in the first query of a request
    return Models(base, classes, catalog.default_schema)


def _mappable(catalog: Catalog) -> dict[tuple[str, str], sa.Table]:
    """The tables that get a class: a primary key, not a view or partition, no reserved column."""
    tables = {}
    for key, relation in sorted(catalog.relations.items()):
        table = relation.table
        if relation.is_view or relation.is_partition or not table.primary_key:
            continue
        reserved = RESERVED_NAMES.intersection(table.columns.keys())
        if reserved:
            log.warning("%s gets no class: column %s", relation.qualified_name, sorted(reserved))
            continue
        tables[key] = table
    return tables


def _links(catalog: Catalog, tables: dict[tuple[str, str], sa.Table]) -> list[Link]:
    """Every served foreign key from a mapped table to a mapped table, in a stable order."""
    index = relationships(catalog)
    found = [
        (table, tables[rel.target], rel.foreign_key)
        for key, table in tables.items()
        for rel in sorted(index.foreign_keys(key), key=lambda rel: _constraint_key(rel.foreign_key))
        if rel.target in tables  # the index holds no key over hidden columns
    ]
    pairs = [(local, referred) for local, referred, _ in found]
    return [
        Link(
            local=local,
            referred=referred,
            columns=tuple(column.name for column in constraint.columns),
            constraint=constraint,
            ambiguous=pairs.count((local, referred)) > 1,
            self_reference=local is referred,
            default_schema=catalog.default_schema,
        )
        for local, referred, constraint in found
    ]


def _constraint_key(constraint: sa.ForeignKeyConstraint) -> tuple:
    """Sort foreign keys by name, then columns (names may be missing)."""
    return (constraint.name or "", tuple(column.name for column in constraint.columns))


def _relationship_names(links: list[Link], naming: ModelNaming) -> dict[Link, tuple[str, str]]:
    """(scalar, collection) per link, unique per class and clear of its columns."""
    taken: dict[sa.Table, set[str]] = {}
    for link in links:
        for table in (link.local, link.referred):
            taken.setdefault(table, set(table.columns.keys()) | RESERVED_NAMES)
    scalars = {link: _claim(taken[link.local], naming.scalar_name, link) for link in links}
    return {
        link: (scalars[link], _claim(taken[link.referred], naming.collection_name, link))
        for link in links
    }


def _claim(taken: set[str], name_for: Callable[[Link], str], link: Link) -> str:
    """The hook's name if free, else its long form, else that with a number."""
    plain = name_for(link)
    fallback = name_for(replace(link, long_form=True))
    numbered = (f"{fallback}_{number}" for number in itertools.count(2))
    name = next(name for name in itertools.chain((plain, fallback), numbered) if name not in taken)
    taken.add(name)
    return name


def _declare_classes(
    base: Any, catalog: Catalog, tables: dict[tuple[str, str], sa.Table], naming: ModelNaming
) -> dict[tuple[str, str], type]:
    """One class per table, mapped to the catalog's own Table object (less hidden columns)."""
    default_schema = catalog.default_schema
    classes: dict[tuple[str, str], type] = {}
    used: set[str] = set()
    for key, table in tables.items():
        name = naming.class_name(table, default_schema)
        unique = next(
            candidate
            for candidate in itertools.chain([name], (f"{name}{n}" for n in itertools.count(2)))
            if candidate not in used
        )
        used.add(unique)
        shown = table.name if table.schema == default_schema else f"{table.schema}.{table.name}"
        attributes: dict[str, Any] = {"__table__": table, "_repr_name": shown}
        if catalog.relations[key].hidden:
            hidden = sorted(catalog.relations[key].hidden)
            attributes["__mapper_args__"] = {"exclude_properties": hidden}
        classes[key] = type(unique, (base,), attributes)
    return classes


def _overlaps(link: Link, links: list[Link], names: dict[Link, tuple[str, str]]) -> str:
    """The relationships that write some of the same columns (two keys sharing a column)."""
    mine = set(link.columns)
    return ",".join(
        sorted(
            name
            for other in links
            if other is not link and other.local is link.local and mine & set(other.columns)
            for name in names[other]
        )
    )


def _add_cross_schema_relationships(
    classes: dict[tuple[str, str], type], links: list[Link], names: dict[Link, tuple[str, str]]
) -> None:
    """Relationships automap cannot see: keys from another schema to a table on the search path.

    PostgreSQL names such a target without its schema, so reflection gives it a second
    Table object; the join is spelled out against the served table instead.
    """
    by_table = {cls.__table__: cls for cls in classes.values()}
    for link in links:
        if link.constraint.referred_table is link.referred:
            continue  # automap made this one
        local_cls, referred_cls = by_table[link.local], by_table[link.referred]
        scalar, collection = names[link]
        pairs = [(e.parent.name, e.column.name) for e in link.constraint.elements]
        options: dict[str, Any] = {
            "primaryjoin": sa.and_(*(link.local.c[a] == link.referred.c[b] for a, b in pairs)),
            "foreign_keys": [link.local.c[a] for a, _ in pairs],
        }
        if overlaps := _overlaps(link, links, names):
            options["overlaps"] = overlaps
        sa.inspect(local_cls).add_property(
            scalar, orm.relationship(referred_cls, back_populates=collection, **options)
        )
        sa.inspect(referred_cls).add_property(
            collection, orm.relationship(local_cls, back_populates=scalar, **options)
        )


def _words(text: str) -> list[str]:
    """The alphanumeric runs of a name: "Stock Moves" -> ["Stock", "Moves"]."""
    return re.findall(r"[^\W_]+", text)


def _snake(text: str) -> str:
    """A name as a Python attribute: "Stock Moves" -> stock_moves."""
    return "_".join(word.lower() for word in _words(text)) or "rows"
