"""The functions of the served schemas, reflected from pg_proc once per catalog snapshot.

Each is served at /api/rpc/<name> (PostgREST's "functions as RPC"). A function is kept when
PostgreSQL can call it with named arguments bound from JSON and tell us what it returns:
a plain function (no aggregate, window function or procedure), not part of an extension
(citext's operators' functions would otherwise flood the list), with no pseudo-type
argument (anyelement, internal) and no pseudo-type result but void (trigger functions
are no API). A function returning a plain `record` without OUT parameters says nothing
of its columns, and is left out too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.engine import Connection

Key = tuple[str, str]  # (schema, name)

_FUNCTIONS_SQL = sa.text(
    """
    SELECT p.oid, n.nspname AS schema, p.proname AS name, p.provolatile AS volatility,
           p.proretset AS returns_set, p.pronargdefaults AS defaults,
           format_type(p.prorettype, NULL) AS return_type, rt.typtype AS return_typtype,
           rn.nspname AS return_schema, rc.relname AS return_relation,
           rc.relkind AS return_relkind,
           obj_description(p.oid, 'pg_proc') AS comment,
           (SELECT ARRAY[an.nspname, ac.relname] FROM pg_type at
              JOIN pg_class ac ON ac.oid = at.typrelid
              JOIN pg_namespace an ON an.oid = ac.relnamespace
             WHERE p.pronargs = 1 AND at.oid = p.proargtypes[0]
               AND ac.relkind IN ('r', 'p', 'v', 'm', 'f')) AS row_type_of,
           coalesce(p.proargnames, '{}') AS arg_names,
           coalesce(p.proargmodes::text[], '{}') AS arg_modes,
           ARRAY(SELECT format_type(t, NULL)
                 FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                      WITH ORDINALITY AS u(t, i) ORDER BY i) AS arg_types,
           ARRAY(SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = rt.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum) AS attribute_names,
           ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = rt.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum) AS attribute_types
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_type rt ON rt.oid = p.prorettype
    LEFT JOIN pg_class rc ON rc.oid = rt.typrelid
    LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE n.nspname = ANY(:schemas) AND p.prokind = 'f'
      AND (rt.typtype <> 'p' OR rt.typname IN ('void', 'record'))
      AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
      AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) AS a(t)
                      JOIN pg_type at ON at.oid = a.t WHERE at.typtype = 'p')
    ORDER BY n.nspname, p.proname, p.oid
    """
)

_MODIFIERS = re.compile(r"\(.*?\)")  # numeric(8,2) -> numeric
VOLATILITY = {"v": "volatile", "s": "stable", "i": "immutable"}
_INPUT_MODES = ("i", "b", "v")
_OUTPUT_MODES = ("o", "b", "t")


@dataclass(frozen=True)
class Parameter:
    """One parameter: its name ('' when unnamed), type as PostgreSQL writes it, mode, default."""

    name: str
    type_name: str
    mode: str = "i"  # pg_proc's: i(n), o(ut), b (inout), v(ariadic), t(able column)
    has_default: bool = False

    @property
    def is_input(self) -> bool:
        """True for the parameters a call passes (IN, INOUT, VARIADIC)."""
        return self.mode in _INPUT_MODES

    @property
    def variadic(self) -> bool:
        """True for a VARIADIC parameter (an array of the values passed)."""
        return self.mode == "v"


@dataclass(frozen=True)
class Function:
    """One served function: what it takes, what it returns, and how it may be called."""

    schema: str
    name: str
    oid: int
    parameters: tuple[Parameter, ...]
    return_type: str  # as PostgreSQL writes it: integer, SETOF-less table name, void, record
    returns_set: bool
    volatility: str  # volatile, stable or immutable
    # The result's columns (name, type) when it returns rows: a table's, a composite type's,
    # or those of OUT parameters and RETURNS TABLE; empty for a scalar or void.
    columns: tuple[tuple[str, str], ...] = ()
    # The served table or view whose rows it returns, if any: filters and embeds follow it.
    returns_relation: Key | None = None
    comment: str | None = None
    # The relation whose row type is its one argument: f(books) is a computed column of books.
    row_type_of: Key | None = None

    @property
    def qualified_name(self) -> str:
        """schema.name, as PostgREST names it in errors."""
        return f"{self.schema}.{self.name}"

    @property
    def inputs(self) -> tuple[Parameter, ...]:
        """The parameters a call passes, in order."""
        return tuple(param for param in self.parameters if param.is_input)

    @property
    def required(self) -> frozenset[str]:
        """Names of the inputs without a default: a call must name each."""
        return frozenset(p.name for p in self.inputs if not p.has_default)

    @property
    def returns_void(self) -> bool:
        """True when it returns nothing (PostgREST answers 204)."""
        return self.return_type == "void"

    @property
    def returns_rows(self) -> bool:
        """True when its result has columns (table rows, a composite, OUT parameters)."""
        return bool(self.columns)

    @property
    def is_computed_column(self) -> bool:
        """f(row) returning one scalar: selected, filtered and ordered as a column of row's table."""
        return (
            self.row_type_of is not None
            and not self.returns_set
            and not self.columns
            and (not self.returns_void)
        )

    @property
    def read_only(self) -> bool:
        """STABLE and IMMUTABLE functions: callable by GET, run in a read-only transaction."""
        return self.volatility != "volatile"

    def signature(self) -> str:
        """name(arg type, ...) for pages and OpenAPI descriptions."""
        args = ", ".join(
            ("VARIADIC " if p.variadic else "")
            + f"{p.name} {p.type_name}".strip()
            + (" DEFAULT ..." if p.has_default else "")
            for p in self.inputs
        )
        result = ("SETOF " if self.returns_set else "") + self.return_type
        return f"{self.qualified_name}({args}) RETURNS {result}"


Functions = Mapping[Key, tuple[Function, ...]]  # overloads share a key


def reflect_functions(
    conn: Connection,
    schemas: Iterable[str],
    hidden: Iterable[str] = (),
    hidden_relations: frozenset[Key] = frozenset(),
) -> Functions:
    """Every served function of the schemas, by (schema, name); overloads together.

    hidden names functions (schema.name, every overload) to leave out; a function returning
    rows of a hidden relation is left out with it.
    """
    hidden = frozenset(hidden)
    found: dict[Key, list[Function]] = {}
    for row in conn.execute(_FUNCTIONS_SQL, {"schemas": list(schemas)}):
        function = _function(row)
        if function is None or function.qualified_name in hidden:
            continue
        if function.returns_relation in hidden_relations:
            continue
        found.setdefault((function.schema, function.name), []).append(function)
    return MappingProxyType({key: tuple(overloads) for key, overloads in found.items()})


def function_names(conn: Connection, schemas: Iterable[str]) -> frozenset[str]:
    """schema.name of every function of the schemas (to tell HIDDEN's function entries apart)."""
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT n.nspname || '.' || p.proname FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(:schemas)"
        ),
        {"schemas": list(schemas)},
    )
    return frozenset(rows.scalars())


def _function(row: sa.Row) -> Function | None:
    """A Function from one row of _FUNCTIONS_SQL, or None when it cannot be served."""
    parameters = _parameters(row)
    outputs = tuple((p.name, p.type_name) for p in parameters if p.mode in _OUTPUT_MODES)
    relation = None
    if outputs:
        columns = outputs
    elif row.return_typtype == "c":
        columns = tuple(zip(row.attribute_names, row.attribute_types, strict=True))
        if row.return_relkind in ("r", "p", "v", "m", "f"):
            relation = (row.return_schema, row.return_relation)
    elif row.return_type == "record":
        return None  # its columns are known only to the caller
    else:
        columns = ()
    return Function(
        schema=row.schema,
        name=row.name,
        oid=row.oid,
        parameters=parameters,
        return_type=row.return_type,
        returns_set=row.returns_set,
        volatility=VOLATILITY[row.volatility],
        columns=columns,
        returns_relation=relation,
        comment=row.comment,
        row_type_of=tuple(row.row_type_of) if row.row_type_of else None,
    )


def computed_columns(functions: Functions) -> dict[Key, dict[str, Function]]:
    """Each relation's computed columns by name: the functions f(row) returning a scalar."""
    found: dict[Key, dict[str, Function]] = {}
    for overloads in functions.values():
        for function in overloads:
            if function.is_computed_column:
                found.setdefault(function.row_type_of, {})[function.name] = function
    return found


def sql_type(type_name: str) -> sa.types.TypeEngine:
    """SQLAlchemy's type for a catalog type name, so values convert and compare; NullType if unknown."""
    base = _MODIFIERS.sub("", type_name)
    if base.endswith("[]"):
        return sa.ARRAY(sql_type(base[:-2]))
    known = ischema_names.get(base)
    return known() if known is not None else sa.types.NullType()


def _parameters(row: sa.Row) -> tuple[Parameter, ...]:
    """The parameters in order; the last pronargdefaults inputs have defaults."""
    types = list(row.arg_types)
    names = list(row.arg_names) + [""] * (len(types) - len(row.arg_names))
    modes = list(row.arg_modes) or ["i"] * len(types)
    input_positions = [i for i, mode in enumerate(modes) if mode in _INPUT_MODES]
    defaulted = set(input_positions[len(input_positions) - row.defaults :]) if row.defaults else ()
    return tuple(Parameter(names[i], types[i], modes[i], i in defaulted) for i in range(len(types)))
