"""The SQL of a named column: a served or computed column, its JSON path, a cast, an aggregate.

Select items, order terms and filters all name columns this way (`data->a->>b::text`,
`available_copies`, `price.sum()`); every key and index is a bound value, and a cast names
a type of a fixed list, so no request text becomes SQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from db.catalog import NotInCatalog, Relation
from db.functions import sql_type

from .api_error import ApiError
from .grammar import Filter, OrderTerm
from .reads import SelectItem
from .rpc import call_of

# The types a select item may be cast to (`id::text`): a fixed list, so no request text
# ever names a type in SQL. Keys are the names PostgreSQL accepts, lower case.
CASTS: dict[str, sa.types.TypeEngine] = {
    "text": sa.Text(),
    "varchar": sa.String(),
    "json": postgresql.JSON(),
    "jsonb": postgresql.JSONB(),
    "int": sa.Integer(),
    "integer": sa.Integer(),
    "int4": sa.Integer(),
    "smallint": sa.SmallInteger(),
    "int2": sa.SmallInteger(),
    "bigint": sa.BigInteger(),
    "int8": sa.BigInteger(),
    "numeric": sa.Numeric(),
    "decimal": sa.Numeric(),
    "real": sa.REAL(),
    "float4": sa.REAL(),
    "float8": postgresql.DOUBLE_PRECISION(),
    "double precision": postgresql.DOUBLE_PRECISION(),
    "boolean": sa.Boolean(),
    "bool": sa.Boolean(),
    "date": sa.Date(),
    "time": sa.Time(),
    "timestamp": sa.DateTime(),
    "timestamptz": sa.DateTime(timezone=True),
    "interval": postgresql.INTERVAL(),
    "uuid": sa.Uuid(as_uuid=True),
}


def read_column(relation: Relation, name: str) -> sa.ColumnElement:
    """A served column, or a computed one: `fn(row)` of a function taking the relation's row."""
    try:
        return relation.column(name)
    except NotInCatalog:
        function = relation.computed.get(name)
        if function is None:
            raise
    # The whole row, as `books` in `available_copies(books)`.
    row = relation.table.table_valued()
    return call_of(function, row, type_=sql_type(function.return_type)).label(name)


def column_expression(
    relation: Relation, item: SelectItem | OrderTerm | Filter
) -> sa.ColumnElement:
    """The SQL for a select item, order term or filter's column: the column, its JSON path, a cast.

    A path on a json or jsonb column applies to it directly (so its indexes serve); on
    another type, to to_jsonb(column), as PostgREST does. Keys and indexes are bound values.
    """
    column = read_column(relation, item.column)
    expression: sa.ColumnElement = column
    if item.path:
        if relation.type_names.get(item.column) not in ("json", "jsonb"):
            expression = sa.func.to_jsonb(column, type_=postgresql.JSONB)
        for step in item.path:
            # Bound and typed (::VARCHAR or ::INTEGER), as PostgREST binds them: never SQL text.
            kind = sa.Text() if isinstance(step.key, str) else sa.Integer()
            result = sa.Text() if step.arrow == "->>" else postgresql.JSONB()
            operand = sa.bindparam(None, step.key, type_=kind)
            expression = expression.op(step.arrow, return_type=result)(operand)
    cast = getattr(item, "cast", None)
    return expression if cast is None else sa.cast(expression, cast_type(cast))


def cast_type(name: str) -> sa.types.TypeEngine:
    """The type of the allow-list a cast names, or PostgREST's 400 for an unknown type."""
    kind = CASTS.get(" ".join(name.lower().split()))
    if kind is None:
        raise ApiError(
            400,
            f'type "{name}" does not exist',
            code="42704",
            hint="cast to one of " + ", ".join(sorted(CASTS)),
        )
    return kind


def select_column(relation: Relation, item: SelectItem) -> sa.ColumnElement:
    """A select item as a result column, labelled with its response key when not a plain column."""
    if item.aggregate:
        function = getattr(sa.func, item.aggregate)
        value = function() if item.column == "*" else function(column_expression(relation, item))
        cast = item.aggregate_cast
        return (value if cast is None else sa.cast(value, cast_type(cast))).label(item.key)
    if item.path or item.cast or item.alias:
        return column_expression(relation, item).label(item.key)
    return read_column(relation, item.column)
