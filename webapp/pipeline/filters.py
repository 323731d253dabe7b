"""WHERE clauses: filters and logic trees over a relation, every value bound.

`title=ilike.*war*`, `tags=cs.{a,b}`, `id=eq(any).{1,2}`, `body=fts(english).cat`,
`or=(a.eq.1,and(b.gt.2,c.is.null))`; a filter on an embed's name (`clients=not.is.null`)
is the embed's own (related.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import REGCONFIG

from db.catalog import Relation

from .coercion import Untyped, coerce_value, python_type, valid_unicode
from .columns import column_expression, read_column
from .grammar import CONTAINMENT, FULL_TEXT, Condition, Filter, GrammarError

if TYPE_CHECKING:
    from .related import Related


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
