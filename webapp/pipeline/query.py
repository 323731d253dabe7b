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

from db.catalog import NotInCatalog, Relation
from db.functions import sql_type

from .grammar import Condition, Filter, GrammarError
from .reads import ReadRequest
from .rpc import call_of

if TYPE_CHECKING:
    from .embedding import Related

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
    if lone_surrogate(text):
        raise GrammarError(
            f"the value for column {column.name!r} is not valid Unicode: it holds a lone"
            " surrogate (a \\ud800-\\udfff escape without its pair)"
        )
    kind = python_type(column)
    converter = _CONVERTERS.get(kind) if kind else None
    if converter is None:
        enums = getattr(column.type, "enums", None)
        if enums and text not in enums:
            raise GrammarError(
                f"{text!r} is not one of the values of column {column.name!r}",
                hint="one of " + ", ".join(enums),
            )
        return sa.bindparam(None, text, type_=Untyped())
    try:
        value = converter(text)
    except (ValueError, KeyError, InvalidOperation, TypeError):
        raise GrammarError(
            f"{text!r} is not {_TYPE_WORDS[kind]}, as column {column.name!r} requires"
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
    column = read_column(relation, flt.column)
    if flt.op == "is":
        clause = _is_clause(column, str(flt.value))
    elif flt.op == "in":
        clause = column.in_([coerce_value(column, value) for value in flt.value])
    elif flt.op in ("like", "ilike"):
        pattern = str(flt.value).replace("*", "%")
        text_column = sa.cast(column, sa.Text) if python_type(column) is not str else column
        clause = text_column.ilike(pattern) if flt.op == "ilike" else text_column.like(pattern)
    else:
        value = coerce_value(column, str(flt.value))
        clause = _COMPARISONS[flt.op](column, value)
    return sa.not_(clause) if flt.negated else clause


_COMPARISONS = {
    "eq": lambda col, value: col == value,
    "neq": lambda col, value: col != value,
    "gt": lambda col, value: col > value,
    "gte": lambda col, value: col >= value,
    "lt": lambda col, value: col < value,
    "lte": lambda col, value: col <= value,
}


def _is_clause(column: sa.Column, value: str) -> sa.ColumnElement[bool]:
    """IS NULL, IS TRUE, IS FALSE or IS UNKNOWN."""
    if value == "null":
        return column.is_(None)
    if value == "unknown":
        return sa.cast(column, sa.Boolean).is_(None)
    return column.is_(sa.true() if value == "true" else sa.false())


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
        columns = [
            read_column(relation, item.column).label(item.alias)
            if item.alias
            else read_column(relation, item.column)
            for item in read.select
        ]
    else:
        columns = relation.columns
    columns += [relation.column(name).label(HIDDEN + name) for name in hidden]
    stmt = sa.select(*columns).select_from(table)
    for condition in read.filters:
        stmt = stmt.where(condition_clause(relation, condition, related))
    if related is not None:
        stmt = stmt.where(*related.inner())
    return stmt.order_by(*order_clauses(relation, read, related))


def order_clauses(
    relation: Relation, read: ReadRequest, related: Related | None = None
) -> list[sa.ColumnElement]:
    """ORDER BY of a read; the primary key when it asks for none, so pages are stable."""
    clauses = []
    for term in read.order:
        # clients(name) is an embed's column; a column named "note (free text)" is a column.
        if related is not None and "(" in term.column and term.column not in relation.table.c:
            column = related.order_column(term.column)
        else:
            column = read_column(relation, term.column)
        key = column.desc() if term.descending else column.asc()
        if term.nulls == "first":
            key = key.nulls_first()
        elif term.nulls == "last":
            key = key.nulls_last()
        clauses.append(key)
    if not clauses:
        clauses = [relation.table.columns[name] for name in relation.primary_key]
    return clauses
