"""Calling a served function (PostgREST's RPC): choose the overload, then build the call.

The call is a FROM item, `schema.fn(a => <a>, ...) AS fn`, so its rows take the whole read
grammar (select, filters, order, paging, embeds) through the same builders a table does:
`FunctionResult` is a Relation whose Table is that call. The arguments travel as one bound
JSON object and PostgreSQL converts each one to its parameter's type
(`json_to_record(:args) AS pgrst_args(a integer, ...)`, the types as the catalog wrote them),
so no value is ever written into SQL and arrays, enums and domains need no code of ours.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import quoted_name
from sqlalchemy.sql.functions import Function as SqlFunction

from db.catalog import Catalog, Relation
from db.functions import Function, sql_type

from .api_error import ApiError
from .grammar import OPERATORS, RESERVED
from .values import dumps

JSON_TYPES = ("json", "jsonb")


class CatalogType(sa.types.UserDefinedType):
    """A type named as PostgreSQL's format_type() wrote it (already quoted where it must be)."""

    cache_ok = True

    def __init__(self, name: str):
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        """The catalog's own spelling: it came from the database, never from a request."""
        return self.name


class NamedArgument(sa.sql.expression.ColumnElement):
    """`name => value` (or `VARIADIC name => value`) in a function call."""

    inherit_cache = False  # each call is compiled afresh: its shape follows the request

    def __init__(self, name: str, value: sa.ColumnElement, variadic: bool = False):
        self.name = name
        self.value = value
        self.variadic = variadic
        self.type = value.type


@compiles(NamedArgument)
def _named_argument(element: NamedArgument, compiler, **kw: Any) -> str:
    """Render the name through the dialect's identifier preparer, the value as a bound expression."""
    name = compiler.preparer.quote_identifier(element.name)
    prefix = "VARIADIC " if element.variadic else ""
    return f"{prefix}{name} => {compiler.process(element.value, **kw)}"


@dataclass(frozen=True)
class FunctionResult(Relation):
    """A function call's rows, read like a relation: named after the table it returns rows of."""

    function: Function | None = None
    source: tuple[str, str] = ("", "")  # the (schema, name) relationships are looked up by

    @property
    def schema(self) -> str:
        """The returned relation's schema (the function's when it returns no table's rows)."""
        return self.source[0]

    @property
    def name(self) -> str:
        """The returned relation's name (else the function's)."""
        return self.source[1]

    @property
    def primary_key(self) -> tuple[str, ...]:
        """None: a result is ordered as the function returns it unless order= says otherwise."""
        return ()


def split_query(args: Any) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """A GET's arguments (name -> every value sent) apart from its filters and paging.

    As PostgREST: a parameter not reserved whose value does not start with an operator is an
    argument.
    """
    arguments: dict[str, list[str]] = {}
    rest: list[tuple[str, str]] = []
    for key, value in args.items(multi=True):
        if key in RESERVED or _is_filter(key, value):
            rest.append((key, value))
        else:
            arguments.setdefault(key, []).append(value)
    return arguments, rest


def query_arguments(function: Function, sent: Mapping[str, list[str]]) -> dict[str, Any]:
    """A GET's values per parameter: every one for VARIADIC, else the last (as PostgREST)."""
    variadic = {p.name for p in function.inputs if p.variadic}
    return {name: values if name in variadic else values[-1] for name, values in sent.items()}


def _is_filter(key: str, value: str) -> bool:
    """True for `col=op.value`, `col=not.op.value` and logic trees."""
    if key in ("or", "and", "not.or", "not.and") or key.endswith((".or", ".and")):
        return True
    head = value.removeprefix("not.").partition(".")[0]
    return head in OPERATORS and "." in value


def choose(
    catalog: Catalog, schema: str, name: str, given: frozenset[str], single_object: bool
) -> tuple[Function, bool]:
    """The one overload a call means, and whether it takes the whole body as its one argument.

    PGRST202 (404) when none fits, PGRST203 (300) when several do: PostgREST's rules, by the
    names of the arguments sent.
    """
    overloads = catalog.functions.get((schema, name), ())
    fitting = _fitting(overloads, given, single_object)
    if not fitting:
        raise _not_found(catalog, schema, name, given, single_object)
    if len(fitting) > 1:
        raise _ambiguous(fitting)
    function = fitting[0]
    return function, single_object or _takes_unnamed_json(function)


def _fitting(
    overloads: tuple[Function, ...], given: frozenset[str], single_object: bool
) -> list[Function]:
    """The overloads a call may mean; of several, the one taking exactly the names sent."""
    if single_object:
        return [f for f in overloads if _one_json_input(f)]
    fitting = [f for f in overloads if _fits(f, given)]
    if not fitting:  # a function of one unnamed json parameter takes the whole body
        return [f for f in overloads if _takes_unnamed_json(f)]
    exact = [f for f in fitting if {p.name for p in f.inputs} == given]
    return exact if len(fitting) > 1 and len(exact) == 1 else fitting


def _takes_unnamed_json(function: Function) -> bool:
    """A function of one unnamed json or jsonb parameter: the body is its argument."""
    return _one_json_input(function) and not function.inputs[0].name


def _fits(function: Function, given: frozenset[str]) -> bool:
    """The names sent are parameters, and every parameter without a default is sent."""
    names = {p.name for p in function.inputs}
    return given <= names and function.required <= given and "" not in names - given


def _one_json_input(function: Function) -> bool:
    """A function of one json or jsonb parameter (it may take the whole body)."""
    inputs = function.inputs
    return len(inputs) == 1 and inputs[0].type_name in JSON_TYPES


def _not_found(
    catalog: Catalog, schema: str, name: str, given: frozenset[str], single_object: bool
) -> ApiError:
    """PostgREST's PGRST202, with a hint naming the closest served function."""
    qualified = f"{schema}.{name}"
    names = ", ".join(sorted(given))
    if single_object:
        message = f"Could not find the function {qualified} in the schema cache"
        searched = "with a single json/jsonb parameter"
    elif given:
        message = f"Could not find the function {qualified}({names}) in the schema cache"
        searched = f"with parameter{'s' if len(given) > 1 else ''} {names}"
    else:
        message = f"Could not find the function {qualified} without parameters in the schema cache"
        searched = "without parameters"
    return ApiError(
        404,
        message,
        code="PGRST202",
        details=f"Searched for the function {qualified} {searched}, "
        "but no matches were found in the schema cache.",
        hint=None if single_object else _closest(catalog, schema, name),
    )


def _closest(catalog: Catalog, schema: str, name: str) -> str | None:
    """'Perhaps you meant to call the function ...': an overload of the name, or a near name."""
    overloads = catalog.functions.get((schema, name))
    if overloads:
        inputs = ", ".join(p.name for p in overloads[0].inputs)
        return f"Perhaps you meant to call the function {schema}.{name}({inputs})"
    served = [fn for (sch, fn) in catalog.functions if sch == schema]
    near = difflib.get_close_matches(name, served, n=1)
    return f"Perhaps you meant to call the function {schema}.{near[0]}" if near else None


def _ambiguous(fitting: list[Function]) -> ApiError:
    """PostgREST's PGRST203: 300, naming every candidate."""
    described = ", ".join(
        f"{f.qualified_name}(" + ", ".join(f"{p.name} => {p.type_name}" for p in f.inputs) + ")"
        for f in fitting
    )
    return ApiError(
        300,
        f"Could not choose the best candidate function between: {described}",
        code="PGRST203",
        hint="Try renaming the parameters or the function itself in the database "
        "so function overloading can be resolved",
    )


def function_result(
    catalog: Catalog, function: Function, arguments: Mapping[str, Any], whole_body: str | None
) -> FunctionResult:
    """The call as a relation: its Table is `fn(...) AS fn`, its columns the result's."""
    if whole_body is not None:
        param = function.inputs[0]
        body = sa.cast(
            sa.bindparam("pgrst_body", whole_body, type_=sa.Text), CatalogType(param.type_name)
        )
        call_args = [NamedArgument(param.name, body) if param.name else body]
    else:
        call_args = _named_arguments(function, arguments)
    return _as_relation(catalog, function, call_of(function, *call_args))


def call_of(function: Function, *arguments: sa.ColumnElement, **kw: Any) -> SqlFunction:
    """`schema.name(arguments)`, both names quoted by the dialect's identifier preparer."""
    return SqlFunction(
        quoted_name(function.name, True),
        *arguments,
        packagenames=(quoted_name(function.schema, True),),
        **kw,
    )


def _as_relation(catalog: Catalog, function: Function, call: SqlFunction) -> FunctionResult:
    """A call's rows as a relation: the served relation's it returns, else its own columns."""
    served = catalog.relations.get(function.returns_relation) if function.returns_relation else None
    table = call.table_valued(*_result_columns(function, served), name=function.name)
    if served is not None:
        return FunctionResult(
            table=table,
            kind=served.kind,
            hidden=served.hidden,
            type_names=served.type_names,
            computed=served.computed,
            function=function,
            source=(served.schema, served.name),
        )
    return FunctionResult(
        table=table, kind="function", function=function, source=(function.schema, function.name)
    )


def computed_relationship(catalog: Catalog, parent: Relation, name: str) -> Function | None:
    """The function `name(parent row)` returning rows of a served relation, if there is one.

    PostgREST's computed relationship: embedded as `select=*,name(...)`. Its parent must be
    a served table or view with a primary key, by which its rows find their own.
    """
    base = catalog.relations.get((parent.schema, parent.name))
    if base is None or not base.primary_key:
        return None
    for schema in dict.fromkeys((parent.schema, catalog.default_schema)):
        for function in catalog.functions.get((schema, name), ()):
            if function.row_type_of == (parent.schema, parent.name) and (
                function.returns_relation in catalog.relations
            ):
                return function
    return None


def called_on(
    catalog: Catalog, function: Function, parent: Relation
) -> tuple[FunctionResult, sa.FromClause]:
    """The rows `function(parent)` for each parent row, and the parent's own table they join."""
    rows = catalog.relations[(parent.schema, parent.name)].table.alias("pgfront_parent")
    return _as_relation(catalog, function, call_of(function, rows.table_valued())), rows


def _named_arguments(function: Function, arguments: Mapping[str, Any]) -> list[NamedArgument]:
    """`name => (SELECT pgrst_args.name FROM json_to_record(:args) AS pgrst_args(name type))`."""
    sent = [p for p in function.inputs if p.name in arguments]
    if not sent:
        return []
    record = {p.name: arguments[p.name] for p in sent}
    args = (
        sa.func.json_to_record(
            sa.bindparam("pgrst_args", dumps(record).decode(), type_=sa.Text).cast(sa.JSON)
        )
        .table_valued(*(sa.column(p.name, CatalogType(p.type_name)) for p in sent))
        .render_derived(name="pgrst_args", with_types=True)
    )
    return [
        NamedArgument(p.name, sa.select(args.c[p.name]).scalar_subquery(), p.variadic) for p in sent
    ]


def _result_columns(function: Function, served: Relation | None) -> list[sa.ColumnClause]:
    """The result's columns, typed: the relation's own types, else from the catalog's names."""
    if served is not None:
        return [sa.column(c.name, c.type) for c in served.table.columns]
    if function.columns:
        return [sa.column(name, sql_type(type_name)) for name, type_name in function.columns]
    return [sa.column(function.name, sql_type(function.return_type))]


def parse_json_document(raw: bytes) -> str:
    """The body as JSON text for a function taking it whole; a 400 unless it is JSON."""
    try:
        json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON", code="PGRST102") from None
    return raw.decode() if raw else "{}"
