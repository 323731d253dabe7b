"""Which base-table column each view column shows, read from the views' stored queries.

PostgreSQL keeps a view's query in `pg_rewrite.ev_action` as a node tree. Each output
column of the query (a TARGETENTRY of its targetList) carries `resorigtbl` and
`resorigcol`: the relation and column it comes from when it is a plain column, through
joins and subqueries (0 otherwise). A view over a view names the inner view there, so the
chain is followed down to a base table. `pg_depend` names the columns the stored query
depends on, which turns the numbers into names. PostgREST's schema cache reads the same
fields to give views the relationships of the keys they expose.

One query reads every view and materialized view of the served schemas; the node trees
are read here, in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

RelationKey = tuple[str, str]  # (schema, name)
ColumnRef = tuple[str, str, str]  # (schema, relation, column)

_VIEWS_SQL = sa.text(
    """
    SELECT v.oid::bigint AS oid, n.nspname AS schema, v.relname AS name,
           r.ev_action::text AS definition,
           (SELECT json_agg(json_build_array(a.attnum::int, a.attname))
              FROM pg_attribute a
             WHERE a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
           (SELECT json_agg(json_build_array(d.refobjid::bigint, sn.nspname, s.relname,
                                             d.refobjsubid, sa.attname))
              FROM pg_depend d
              JOIN pg_class s ON s.oid = d.refobjid
              JOIN pg_namespace sn ON sn.oid = s.relnamespace
              JOIN pg_attribute sa ON sa.attrelid = d.refobjid AND sa.attnum = d.refobjsubid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
               AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0) AS sources
    FROM pg_class v
    JOIN pg_namespace n ON n.oid = v.relnamespace
    JOIN pg_rewrite r ON r.ev_class = v.oid AND r.rulename = '_RETURN'
    WHERE v.relkind IN ('v', 'm') AND n.nspname = ANY(:schemas)
    """
)

# A node tree's tokens: structure, or a word (a backslash escapes structure inside a word).
_TOKENS = re.compile(r"[{}()]|(?:\\.|[^\s{}()\\])+")
_QUERY_DEPTH = 2  # `({QUERY ...`: the stored query's own fields
_ENTRY_DEPTH = _QUERY_DEPTH + 2  # `:targetList ({TARGETENTRY ...`


@dataclass
class _Walk:
    """Where a walk over a node tree's tokens is: its depth, the key just read, the entry."""

    depth: int = 0
    in_list: bool = False  # inside the query's own targetList
    key: str | None = None
    entry: dict[str, str] = field(default_factory=dict)

    @property
    def at_entry(self) -> bool:
        """True at the level of one TARGETENTRY's fields."""
        return self.in_list and self.depth == _ENTRY_DEPTH

    def open(self) -> None:
        """A `(` or `{`: one level down; the targetList, or a new entry of it, may start."""
        self.depth += 1
        self.in_list = self.in_list or (self.key == "targetList" and self.depth == _QUERY_DEPTH + 1)
        if self.at_entry:
            self.entry = {}
        self.key = None

    def word(self, token: str) -> None:
        """A `:key` at a level that matters, or the value of the key just read."""
        if token.startswith(":"):
            self.key = token[1:] if self.depth in (_QUERY_DEPTH, _ENTRY_DEPTH) else None
        elif self.key is not None:
            if self.at_entry:
                self.entry[self.key] = token
            self.key = None


def output_origins(definition: str) -> Iterator[tuple[int, int, int]]:
    """(output column number, origin relation oid, origin column number) of a stored query.

    Only output columns that are a plain column of some relation are yielded; expressions,
    and the hidden (resjunk) entries a query may carry, are not.
    """
    walk = _Walk()
    for match in _TOKENS.finditer(definition):
        token = match.group()
        if token in ("(", "{"):
            walk.open()
        elif token in (")", "}"):
            if walk.at_entry:
                yield from _origin(walk.entry)
            if walk.in_list and walk.depth == _QUERY_DEPTH + 1:
                return  # the end of the query's own target list
            walk.depth -= 1
            walk.key = None
        else:
            walk.word(token)


def _origin(entry: Mapping[str, str]) -> Iterator[tuple[int, int, int]]:
    """The entry's (resno, resorigtbl, resorigcol), when it is a visible plain column."""
    try:
        resno, table, column = (int(entry[k]) for k in ("resno", "resorigtbl", "resorigcol"))
    except (KeyError, ValueError):
        return
    if entry.get("resjunk") != "true" and table and column > 0:
        yield resno, table, column


def reflect_view_columns(
    conn: Connection, schemas: Iterable[str]
) -> Mapping[RelationKey, Mapping[str, ColumnRef]]:
    """For each view of the schemas, its columns that show a base-table column, and which."""
    return view_columns_of(conn.execute(_VIEWS_SQL, {"schemas": list(schemas)}).all())


def view_columns_of(views: Iterable[Any]) -> Mapping[RelationKey, Mapping[str, ColumnRef]]:
    """What reflect_view_columns() returns, from the rows of its query (oid, schema, name,
    definition, columns: [[number, name]], sources: [[oid, schema, relation, number, name]])."""
    views = list(views)
    keys = {view.oid: (view.schema, view.name) for view in views}
    names: dict[tuple[int, int], ColumnRef] = {}
    origins: dict[int, dict[int, tuple[int, int]]] = {}
    for view in views:
        for oid, schema, relation, number, column in view.sources or ():
            names[(oid, number)] = (schema, relation, column)
        origins[view.oid] = {
            number: (oid, column) for number, oid, column in output_origins(view.definition)
        }
    found = {}
    for view in views:
        shown = {}
        for number, name in sorted(view.columns or ()):
            base = _base_column(origins, names, keys, view.oid, number)
            if base is not None:
                shown[name] = base
        found[keys[view.oid]] = MappingProxyType(shown)
    return MappingProxyType(found)


def _base_column(
    origins: Mapping[int, Mapping[int, tuple[int, int]]],
    names: Mapping[tuple[int, int], ColumnRef],
    views: Mapping[int, RelationKey],
    view: int,
    number: int,
) -> ColumnRef | None:
    """The column a view's column shows, followed through views down to one that is not a view."""
    seen = set()
    while view in views and (view, number) not in seen:
        seen.add((view, number))
        origin = origins[view].get(number)
        if origin is None:
            return None
        if origin[0] not in views:
            return names.get(origin)
        view, number = origin
    return None
