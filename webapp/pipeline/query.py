"""Turning a parsed request into a Core statement over a reflected relation.

Every name is looked up in the catalog (NotInCatalog otherwise) and quoted by
SQLAlchemy; every value becomes a bound parameter, converted to the column's type
first so a bad value is a 400 naming the column.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import REGCONFIG

from db.catalog import NotInCatalog, Relation
from db.functions import sql_type

from .api_error import ApiError
from .grammar import CONTAINMENT, FULL_TEXT, Condition, Filter, GrammarError, OrderTerm
from .reads import ReadRequest, SelectItem
from .rpc import call_of

if TYPE_CHECKING:
    from .embedding import Related

# What PostgreSQL answers for text its type cannot read (22P02), said before the query is sent.
INVALID_TEXT = "22P02"

_BOOLEANS = {
    "true": True,
    "t": True,
    "yes": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "0": False,
}


def _integer(text: str) -> int:
    """Plain ASCII digits only (Python's int() also takes 1_000 and other scripts' digits)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(text)
    return int(text)


def _or_infinity(parse):
    """Dates and timestamps also take PostgreSQL's infinity and -infinity."""

    def convert(text: str):
        return text if text in ("infinity", "-infinity") else parse(text)

    return convert


_CONVERTERS = {
    int: _integer,
    float: float,
    Decimal: Decimal,
    bool: lambda text: _BOOLEANS[text.lower()],
    uuid.UUID: uuid.UUID,
    dt.date: _or_infinity(dt.date.fromisoformat),
    dt.datetime: _or_infinity(dt.datetime.fromisoformat),
    dt.time: dt.time.fromisoformat,
}
_TYPE_WORDS = {
    int: "an integer",
    float: "a number",
    Decimal: "a number",
    bool: "a boolean",
    uuid.UUID: "a uuid",
    dt.date: "a date (YYYY-MM-DD)",
    dt.datetime: "an ISO 8601 timestamp",
    dt.time: "a time (HH:MM:SS)",
}


class Untyped(sa.types.UserDefinedType):
    """A bound value sent as untyped text, so PostgreSQL reads it as the column's own type."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """Only used if something renders the type; binds carry no cast."""
        return "TEXT"


def python_type(column: sa.Column) -> type | None:
    """The Python type a column's values convert to, or None to pass text through."""
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def coerce_value(column: sa.Column, text: str) -> Any:
    """Convert request text to the column's Python type, or raise GrammarError naming the column.

    Types without a Python converter (arrays, jsonb, interval, citext, enums, extension
    types) are bound untyped, so PostgreSQL reads the text as the column's own type.
    """
    valid_unicode(column.name, text)
    kind = python_type(column)
    converter = _CONVERTERS.get(kind) if kind else None
    if converter is None:
        enums = getattr(column.type, "enums", None)
        if enums and text not in enums:
            raise GrammarError(
                f"{text!r} is not one of the values of column {column.name!r}",
                hint="one of " + ", ".join(enums),
                code=INVALID_TEXT,
            )
        return sa.bindparam(None, text, type_=Untyped())
    try:
        value = converter(text)
    except (ValueError, KeyError, InvalidOperation, TypeError):
        raise GrammarError(
            f"{text!r} is not {_TYPE_WORDS[kind]}, as column {column.name!r} requires",
            code=INVALID_TEXT,
        ) from None
    if isinstance(value, str):  # infinity: let PostgreSQL read it as the column's type
        return sa.bindparam(None, value, type_=Untyped())
    return sa.bindparam(None, value, type_=column.type)


def lone_surrogate(text: str) -> bool:
    """True when text holds a lone surrogate (a JSON escape such as \\ud800 without its pair)."""
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def condition_clause(
    relation: Relation, condition: Condition, related: Related | None = None
) -> sa.ColumnElement[bool]:
    """The WHERE clause for a filter or a logic tree (related: the embeds a filter may name)."""
    if isinstance(condition, Filter):
        if related is not None and related.claims(condition):
            return related.null_check(condition)
        return filter_clause(relation, condition)
    clauses = [condition_clause(relation, item, related) for item in condition.conditions]
    combined = sa.or_(*clauses) if condition.op == "or" else sa.and_(*clauses)
    return sa.not_(combined) if condition.negated else combined


def filter_clause(relation: Relation, flt: Filter) -> sa.ColumnElement[bool]:
    """The WHERE clause for one filter."""
    expression = column_expression(relation, flt)
    if flt.op == "is":
        clause = _is_clause(expression, str(flt.value))
    elif flt.op == "in":
        clause = expression.in_([_value(relation, flt, value) for value in flt.value])
    elif flt.op in FULL_TEXT:
        clause = _full_text(relation, flt, expression)
    elif flt.quantifier:
        # eq(any).{a,b} is a OR b, eq(all).{a,b} a AND b: ANY and ALL's three-valued logic.
        clauses = [_compare(relation, flt, expression, value) for value in flt.value]
        clause = (
            sa.or_(sa.false(), *clauses)
            if flt.quantifier == "any"
            else sa.and_(sa.true(), *clauses)
        )
    else:
        clause = _compare(relation, flt, expression, str(flt.value))
    return sa.not_(clause) if flt.negated else clause


def _compare(
    relation: Relation, flt: Filter, expression: sa.ColumnElement, text: str
) -> sa.ColumnElement[bool]:
    """expression op value, for the operators that take one value."""
    if flt.op in ("like", "ilike", "match", "imatch"):
        subject = _as_text(relation, flt, expression)
        if flt.op in ("like", "ilike"):
            pattern = text.replace("*", "%")
            return subject.ilike(pattern) if flt.op == "ilike" else subject.like(pattern)
        # A regular expression is a bound value; a bad one is PostgreSQL's 2201B (a 400),
        # and a slow one is stopped by the statement timeout and the request deadline.
        regex = sa.bindparam(None, valid_unicode(flt.column, text), type_=sa.Text)
        return subject.op("~" if flt.op == "match" else "~*", is_comparison=True)(regex)
    value = _value(relation, flt, text)
    if flt.op == "isdistinct":
        return expression.is_distinct_from(value)
    if flt.op in CONTAINMENT:
        return expression.op(CONTAINMENT[flt.op], is_comparison=True)(value)
    return _COMPARISONS[flt.op](expression, value)


def _value(relation: Relation, flt: Filter, text: str) -> Any:
    """A filter's value, typed as its column; untyped after a JSON path (text or jsonb)."""
    if not flt.path:
        return coerce_value(read_column(relation, flt.column), text)
    return sa.bindparam(None, valid_unicode(flt.column, text), type_=Untyped())


def valid_unicode(column: str, text: str) -> str:
    """text, or a GrammarError naming the column when it holds a lone surrogate."""
    if lone_surrogate(text):
        raise GrammarError(
            f"the value for column {column!r} is not valid Unicode: it holds a lone"
            " surrogate (a \\ud800-\\udfff escape without its pair)"
        )
    return text


def _as_text(relation: Relation, flt: Filter, expression: sa.ColumnElement) -> sa.ColumnElement:
    """expression as text, for like and match: a text column or ->> as it is, others cast."""
    if flt.path:
        return expression if flt.path[-1].arrow == "->>" else sa.cast(expression, sa.Text)
    column = read_column(relation, flt.column)
    return column if python_type(column) is str else sa.cast(column, sa.Text)


_TS_QUERIES = {
    "fts": sa.func.to_tsquery,
    "plfts": sa.func.plainto_tsquery,
    "phfts": sa.func.phraseto_tsquery,
    "wfts": sa.func.websearch_to_tsquery,
}


def _full_text(
    relation: Relation, flt: Filter, expression: sa.ColumnElement
) -> sa.ColumnElement[bool]:
    """vector @@ query: a tsvector column as it is; text and json through to_tsvector, as PostgREST."""
    config = []
    if flt.language:
        config = [sa.cast(sa.bindparam(None, flt.language, type_=sa.Text), REGCONFIG)]
    query = _TS_QUERIES[flt.op](
        *config, sa.bindparam(None, valid_unicode(flt.column, str(flt.value)), type_=sa.Text)
    )
    kind = relation.type_names.get(flt.column, "")
    if kind == "tsvector" and not flt.path:
        vector = expression
    elif (
        flt.path
        or kind in ("json", "jsonb")
        or python_type(read_column(relation, flt.column)) is str
    ):
        vector = sa.func.to_tsvector(*config, expression)
    else:
        raise GrammarError(
            f"{flt.op} on {flt.column!r} ({kind}): full-text search takes a tsvector, text or"
            " json column"
        )
    return vector.op("@@", is_comparison=True)(query)


_COMPARISONS = {
    "eq": lambda col, value: col == value,
    "neq": lambda col, value: col != value,
    "gt": lambda col, value: col > value,
    "gte": lambda col, value: col >= value,
    "lt": lambda col, value: col < value,
    "lte": lambda col, value: col <= value,
}


def _is_clause(column: sa.ColumnElement, value: str) -> sa.ColumnElement[bool]:
    """IS NULL, IS NOT NULL, IS TRUE, IS FALSE or IS UNKNOWN."""
    if value == "null":
        return column.is_(None)
    if value == "not_null":
        return column.is_not(None)
    if value == "unknown":
        return sa.cast(column, sa.Boolean).is_(None)
    return column.is_(sa.true() if value == "true" else sa.false())


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


HIDDEN = "_pgfront_join_"  # prefix of columns fetched only to join embeds, never returned


def build_select(
    relation: Relation,
    read: ReadRequest,
    hidden: tuple[str, ...] = (),
    related: Related | None = None,
) -> sa.Select:
    """The SELECT of a read's columns, filters and order, before paging.

    hidden names columns fetched (as HIDDEN + name) only so embeds can be joined to them.
    related are the read's embeds, which its filters and order may name: `clients=not.is.null`,
    `order=clients(name)`, and its `!inner` embeds, which keep only rows that have one.
    """
    table = relation.table
    if read.select is not None:
        columns = [select_column(relation, item) for item in read.select]
    else:
        columns = relation.columns
    columns += [relation.column(name).label(HIDDEN + name) for name in hidden]
    stmt = sa.select(*columns).select_from(table).group_by(*grouping(read, columns))
    for condition in read.filters:
        stmt = stmt.where(condition_clause(relation, condition, related))
    if related is not None:
        stmt = stmt.where(*related.inner())
    return stmt.order_by(*order_clauses(relation, read, related))


def grouping(read: ReadRequest, columns: list) -> list[sa.ColumnElement]:
    """GROUP BY of an aggregating read: every other selected (and hidden) column, by position.

    By position, as the select list holds them: a JSON path's keys are bound values, and
    PostgreSQL would not see the same expression again in a GROUP BY with new parameters.
    """
    if not read.aggregated:
        return []
    aggregates = {item.key for item in read.select or () if item.aggregate}
    return [
        sa.literal_column(str(position))
        for position, column in enumerate(columns, start=1)
        if column.key not in aggregates
    ]


def order_clauses(
    relation: Relation, read: ReadRequest, related: Related | None = None
) -> list[sa.ColumnElement]:
    """ORDER BY of a read; the primary key when it asks for none, so pages are stable."""
    clauses = []
    for term in read.order:
        # `embed(col)` names an embed's column; a column may have parentheses in its name too.
        if related is not None and "(" in term.column and term.column not in relation.table.c:
            column = related.order_column(term.column)
        else:
            column = column_expression(relation, term)
        key = column.desc() if term.descending else column.asc()
        if term.nulls == "first":
            key = key.nulls_first()
        elif term.nulls == "last":
            key = key.nulls_last()
        clauses.append(key)
    if not clauses and not read.aggregated:  # groups have no key to sort by
        clauses = [relation.table.columns[name] for name in relation.primary_key]
    return clauses
