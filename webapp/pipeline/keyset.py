"""Opaque keyset cursors: deep pages that cost what the first page costs.

A list response that has more rows carries a cursor (`Link: <...&cursor=...>; rel="next"`
and `X-Next-Cursor`). The cursor holds the sort order and the last row's sort values;
the next request turns them into `WHERE (a, b) > (:a, :b)` (expanded for mixed
directions), so PostgreSQL walks the index instead of counting past an offset. Offered
on tables with a primary key when every sort column is NOT NULL; the primary key is
appended to the sort so the order is total.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace

import sqlalchemy as sa

from db.catalog import NotInCatalog, Relation

from .grammar import GrammarError, OrderTerm, parse_order
from .query import coerce_value
from .reads import ReadRequest
from .values import dumps


def keyset_order(relation: Relation, read: ReadRequest) -> tuple[OrderTerm, ...] | None:
    """The read's order made total with the primary key, or None if a cursor cannot be offered."""
    if not relation.primary_key or relation.is_view:
        return None
    terms = list(read.order)
    named = {term.column for term in terms}
    terms += [OrderTerm(name) for name in relation.primary_key if name not in named]
    for term in terms:
        if term.column in relation.computed or relation.column(term.column).nullable:
            return None  # a computed column may be null, and is no index's key
    return tuple(terms)


def encode_cursor(order: tuple[OrderTerm, ...], row: dict) -> str:
    """The opaque cursor after row, in this order."""
    spec = ",".join(f"{t.column}.{'desc' if t.descending else 'asc'}" for t in order)
    texts = []
    for term in order:
        encoded = dumps(row[term.column]).decode()
        # Strings (dates, uuids, text) unquoted; numbers and booleans as their JSON text.
        texts.append(json.loads(encoded) if encoded.startswith('"') else encoded)
    raw = dumps([spec, texts])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(relation: Relation, cursor: str) -> tuple[tuple[OrderTerm, ...], list]:
    """The order and the bound values of a cursor; a 400 for anything tampered with."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        spec, texts = json.loads(raw)
        order = parse_order(spec)
        if len(texts) != len(order) or not all(isinstance(t, str) for t in texts):
            raise ValueError
        values = [
            coerce_value(relation.column(t.column), text)
            for t, text in zip(order, texts, strict=True)
        ]
    except (ValueError, binascii.Error, TypeError, GrammarError, NotInCatalog):
        raise GrammarError(
            "the cursor is not valid for this table", hint="start again without cursor="
        ) from None
    return order, values


def after_clause(
    relation: Relation, order: tuple[OrderTerm, ...], values: list
) -> sa.ColumnElement[bool]:
    """Rows that sort after values: OR over i of (equal on the first i-1 keys, past on the i-th)."""
    alternatives = []
    for i, term in enumerate(order):
        equal = [relation.column(t.column) == values[j] for j, t in enumerate(order[:i])]
        column = relation.column(term.column)
        past = column < values[i] if term.descending else column > values[i]
        alternatives.append(sa.and_(*equal, past))
    return sa.or_(*alternatives)


def read_after_cursor(
    relation: Relation, read: ReadRequest, cursor: str
) -> tuple[ReadRequest, sa.ColumnElement[bool]]:
    """The read in the cursor's order, and the WHERE clause that starts after it."""
    order, values = decode_cursor(relation, cursor)
    if keyset_order(relation, replace(read, order=order)) != order:
        raise GrammarError(
            "the cursor is not valid for this table", hint="start again without cursor="
        )
    sort = [(term.column, term.descending) for term in order]  # nulls: the keys are NOT NULL
    if read.order and [(t.column, t.descending) for t in read.order] != sort[: len(read.order)]:
        raise GrammarError("order= differs from the order the cursor was made in")
    return replace(read, order=order), after_clause(relation, order, values)


def read_before_cursor(
    relation: Relation, read: ReadRequest, cursor: str
) -> tuple[ReadRequest, sa.ColumnElement[bool]]:
    """The read walking backwards from the cursor: reversed order, rows that sort before it.

    The caller reverses the rows it gets back to show them in the read's own order.
    """
    read, _ = read_after_cursor(relation, read, cursor)  # the same checks as going forwards
    _, values = decode_cursor(relation, cursor)
    backwards = tuple(OrderTerm(term.column, not term.descending) for term in read.order)
    return replace(read, order=backwards), after_clause(relation, backwards, values)
