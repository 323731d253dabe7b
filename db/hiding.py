"""HIDDEN resolved against the database: what each entry hides in one catalog snapshot.

An entry names a relation (`schema.table`) or a column (`schema.table.column`). Hiding
follows inheritance: a hidden table's partitions (at every level) and inheritance
children are hidden with it, and a hidden column is hidden in each of them (an inherited
column keeps its parent's name). Each entry is remembered by identity (the relation's oid,
the column's number), so a reload after a rename keeps hiding the renamed thing. An entry
whose name no longer names what it hides is dangling: the catalog reports it, startup
refuses it, a reload warns about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from .catalog import Catalog

# (relation oid, column number or None for the whole relation)
Identity = tuple[int, int | None]
Key = tuple[str, str]

_RELATIONS_SQL = sa.text(
    """
    SELECT c.oid, n.nspname AS schema, c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND (c.oid = ANY(CAST(:oids AS oid[]))
           OR (n.nspname, c.relname) IN (SELECT * FROM unnest(CAST(:schemas AS text[]),
                                                                CAST(:names AS text[]))))
    """
)

_COLUMNS_SQL = sa.text(
    """
    SELECT attrelid AS oid, attnum, attname AS name FROM pg_attribute
    WHERE attrelid = ANY(CAST(:oids AS oid[])) AND attnum > 0 AND NOT attisdropped
    """
)

# Every partition (all levels) and inheritance child of the roots, with the root it descends from.
_DESCENDANTS_SQL = sa.text(
    """
    WITH RECURSIVE tree(root, child) AS (
        SELECT inhparent, inhrelid FROM pg_inherits WHERE inhparent = ANY(CAST(:oids AS oid[]))
        UNION
        SELECT tree.root, i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.child
    )
    SELECT tree.root, n.nspname AS schema, c.relname AS name
    FROM tree JOIN pg_class c ON c.oid = tree.child JOIN pg_namespace n ON n.oid = c.relnamespace
    """
)


@dataclass(frozen=True)
class HiddenEntry:
    """One HIDDEN entry as a snapshot resolved it: what it names, and why if it dangles."""

    name: str  # as configured: schema.table or schema.table.column
    identities: frozenset[Identity] = frozenset()  # what it was found to name, kept for reloads
    problem: str | None = None  # why the name no longer names (only) what it hides
    effect: str | None = None  # what is hidden for it instead, when it dangles


@dataclass(frozen=True)
class Hiding:
    """Every relation and column HIDDEN removes from one snapshot, descendants included."""

    entries: tuple[HiddenEntry, ...] = ()
    relations: frozenset[Key] = frozenset()
    columns: Mapping[Key, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def columns_of(self, schema: str, name: str) -> frozenset[str]:
        """The hidden columns of a relation (empty when none, or when the relation is hidden)."""
        return self.columns.get((schema, name), frozenset())

    def hides(self, schema: str, name: str, columns: Iterable[str] = ()) -> bool:
        """True when the relation is hidden, or any of these columns of it is."""
        if (schema, name) in self.relations:
            return True
        return not self.columns_of(schema, name).isdisjoint(columns)

    @property
    def dangling(self) -> tuple[HiddenEntry, ...]:
        """The entries whose name no longer names (only) what they hide."""
        return tuple(entry for entry in self.entries if entry.problem)


@dataclass
class _Found:
    """What the database holds of the entries' names and remembered identities."""

    by_name: dict[Key, int]
    by_oid: dict[int, Key]
    columns: dict[int, dict[int, str]]  # oid -> attnum -> column name

    def attnum(self, oid: int, column: str) -> int | None:
        """The number of the column called column in relation oid, if it has one."""
        return next((n for n, name in self.columns.get(oid, {}).items() if name == column), None)

    def qualified(self, identity: Identity) -> str:
        """schema.table or schema.table.column of an identity that exists."""
        oid, attnum = identity
        schema, name = self.by_oid[oid]
        return f"{schema}.{name}" + ("" if attnum is None else f".{self.columns[oid][attnum]}")

    def exists(self, identity: Identity) -> bool:
        """True when the relation (and column) of identity is still there."""
        oid, attnum = identity
        return oid in self.by_oid and (attnum is None or attnum in self.columns.get(oid, {}))


def resolve_hiding(
    conn: Connection, names: Iterable[str], previous: Hiding | None = None
) -> Hiding:
    """Resolve HIDDEN's names (and the identities previous remembered) against the database now."""
    names = tuple(dict.fromkeys(names))
    if not names:
        return Hiding()
    remembered = {entry.name: entry.identities for entry in previous.entries} if previous else {}
    found = _look_up(conn, names, remembered)
    entries, targets = [], []
    for name in names:
        entry, hides = _resolve(name, found, remembered.get(name, frozenset()))
        entries.append(entry)
        targets.extend(hides)
    relations = {found.by_oid[oid] for oid, attnum in targets if attnum is None}
    columns: dict[Key, set[str]] = {}
    for oid, attnum in targets:
        if attnum is not None:
            columns.setdefault(found.by_oid[oid], set()).add(found.columns[oid][attnum])
    roots = {oid for oid, _ in targets}
    for row in conn.execute(_DESCENDANTS_SQL, {"oids": sorted(roots)}):
        key, root = (row.schema, row.name), found.by_oid[row.root]
        if root in relations:
            relations.add(key)
        elif root in columns:
            columns.setdefault(key, set()).update(columns[root])
    return Hiding(
        entries=tuple(entries),
        relations=frozenset(relations),
        columns=MappingProxyType(
            {key: frozenset(cols) for key, cols in columns.items() if key not in relations}
        ),
    )


def _look_up(
    conn: Connection, names: tuple[str, ...], remembered: Mapping[str, frozenset[Identity]]
) -> _Found:
    """The relations the entries name or remember, and their columns: two queries."""
    keys = [tuple(name.split(".")[:2]) for name in names]
    oids = sorted({oid for identities in remembered.values() for oid, _ in identities})
    params = {"oids": oids, "schemas": [k[0] for k in keys], "names": [k[1] for k in keys]}
    by_name, by_oid = {}, {}
    for row in conn.execute(_RELATIONS_SQL, params):
        by_name[(row.schema, row.name)] = row.oid
        by_oid[row.oid] = (row.schema, row.name)
    columns: dict[int, dict[int, str]] = {}
    for row in conn.execute(_COLUMNS_SQL, {"oids": sorted(by_oid)}):
        columns.setdefault(row.oid, {})[row.attnum] = row.name
    return _Found(by_name, by_oid, columns)


def _resolve(
    name: str, found: _Found, remembered: frozenset[Identity]
) -> tuple[HiddenEntry, list[Identity]]:
    """One entry: what its name names now, plus whatever it named before that still exists.

    A column entry whose column can be found neither by name nor by identity, in a relation
    that is still there, hides that whole relation: the column may be there under a name
    nobody told us.
    """
    schema, table, *column = name.split(".")
    by_name = _by_name(found, (schema, table), column[0] if column else None)
    kept = sorted(identity for identity in remembered if found.exists(identity))
    hides = list(dict.fromkeys(([by_name] if by_name else []) + kept))
    if by_name and hides == [by_name]:
        return HiddenEntry(name, frozenset(hides)), hides
    if hides:
        return _moved(name, found, by_name, hides), hides
    return _names_nothing(name, found, remembered)


def _moved(
    name: str, found: _Found, by_name: Identity | None, hides: list[Identity]
) -> HiddenEntry:
    """An entry that hides what it named before (renamed since), and what it names now if any."""
    now = ", ".join(found.qualified(identity) for identity in hides if identity != by_name)
    if by_name:
        problem, effect = f"names something new; what it named before is now {now}", "both hidden"
    else:
        problem, effect = f"is now {now}", "still hidden"
    return HiddenEntry(name, frozenset(hides), problem, effect)


def _names_nothing(
    name: str, found: _Found, remembered: frozenset[Identity]
) -> tuple[HiddenEntry, list[Identity]]:
    """An entry naming nothing: a missing column hides its whole relation, when that is there."""
    schema, table, *column = name.split(".")
    relation = found.by_name.get((schema, table))
    relation = relation or next((oid for oid, _ in sorted(remembered) if oid in found.by_oid), None)
    if not column or relation is None:
        return HiddenEntry(
            name, problem=f"names nothing: there is no relation {schema}.{table}"
        ), []
    whole = found.qualified((relation, None))
    problem = f"names nothing: {whole} has no column {column[0]}"
    return HiddenEntry(name, problem=problem, effect=f"all of {whole} is hidden"), [
        (relation, None)
    ]


def _by_name(found: _Found, key: Key, column: str | None) -> Identity | None:
    """The identity the entry's name names now, if it names anything."""
    oid = found.by_name.get(key)
    if oid is None or column is None:
        return None if oid is None else (oid, None)
    attnum = found.attnum(oid, column)
    return None if attnum is None else (oid, attnum)


def near_hidden(catalog: Catalog, schema: str | None, name: str | None) -> bool:
    """True when what PostgreSQL says about a relation may show something hidden.

    That is: the relation is hidden, has hidden columns, or a foreign key joins it to a
    hidden relation or over hidden columns; and any relation not named (schema or name
    None) while HIDDEN hides anything.
    """
    if not catalog.hiding.entries:
        return False
    if not schema or not name:
        return True
    return (schema, name) in catalog.derived("near hidden", lambda: _near_hidden(catalog))


def _near_hidden(catalog: Catalog) -> frozenset[Key]:
    """The relations near something hidden, built once per snapshot from every reflected key."""
    hiding = catalog.hiding
    near = set(hiding.relations) | set(hiding.columns)
    for table in catalog.metadata.tables.values():
        source = (table.schema or catalog.search_schema, table.name)
        for constraint in table.foreign_key_constraints:
            referred = constraint.referred_table
            target = (referred.schema or catalog.search_schema, referred.name)
            if hiding.hides(*source, (column.name for column in constraint.columns)) or (
                hiding.hides(*target, (element.column.name for element in constraint.elements))
            ):
                near.update((source, target))
    return frozenset(near)
