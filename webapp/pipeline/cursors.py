"""Opaque keyset cursors, one codec for the API, the table pages and paginate().

A cursor holds the sort order it was made in and one row's sort values, as text the
grammar reads back to the same value: base64url (unpadded) of the JSON `[spec, texts]`,
spec being the order as `order=` writes it (`title.asc,id.asc`). The next request turns it
into "the rows past this one" (`past`), so PostgreSQL walks an index instead of counting
past an offset, and a deep page costs what the first one costs.

The API and the pages page by cursor when the order can be made total: a table with a
primary key whose sort columns are NOT NULL (`keyset_order`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from db.catalog import NotInCatalog, Relation

from .coercion import coerce_value
from .grammar import GrammarError, OrderTerm, parse_order
from .values import csv_cell, dumps


class BadCursor(ValueError):
    """A cursor that was altered, truncated or made for another order."""


def encode(spec: str, values: Sequence[Any]) -> str:
    """The cursor of a row whose sort values (in the order spec names) are values."""
    raw = dumps([spec, [csv_cell(value) for value in values]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[str, list[str]]:
    """The spec and the value texts of a cursor; BadCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        spec, texts = json.loads(raw)
    except (ValueError, binascii.Error, TypeError):
        raise BadCursor(cursor) from None
    if not isinstance(spec, str) or not isinstance(texts, list):
        raise BadCursor(cursor)
    if not all(isinstance(text, str) for text in texts):
        raise BadCursor(cursor)
    return spec, texts


def order_spec(order: Sequence[OrderTerm]) -> str:
    """An order as a cursor's spec (nulls placement left out: the keys are NOT NULL)."""
    return ",".join(f"{t.column}.{'desc' if t.descending else 'asc'}" for t in order)


def past(
    keys: Sequence[tuple[sa.ColumnElement[Any], bool]], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """Rows that sort after values in the keys' (expression, descending) order.

    OR over i of (equal on the first i-1 keys, past on the i-th): what `(a, b) > (x, y)`
    means, spelled out so that each key may have its own direction.
    """
    alternatives = []
    for i, (expression, descending) in enumerate(keys):
        equal = [keys[j][0] == values[j] for j in range(i)]
        beyond = expression < values[i] if descending else expression > values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


def keyset_order(relation: Relation, order: Sequence[OrderTerm]) -> tuple[OrderTerm, ...] | None:
    """order made total with the primary key, or None where a cursor cannot be offered."""
    if not relation.primary_key or relation.is_view:
        return None
    if any(term.path for term in order):  # a JSON path's values are not the row's columns
        return None
    terms = list(order)
    named = {term.column for term in terms}
    terms += [OrderTerm(name) for name in relation.primary_key if name not in named]
    for term in terms:
        if term.column in relation.computed or relation.column(term.column).nullable:
            return None  # a computed column may be null, and is no index's key
    return tuple(terms)


def reversed_order(order: Sequence[OrderTerm]) -> tuple[OrderTerm, ...]:
    """The same keys, each the other way: walking backwards from a cursor."""
    return tuple(OrderTerm(term.column, not term.descending) for term in order)


def relation_cursor(
    relation: Relation, cursor: str, asked: Sequence[OrderTerm]
) -> tuple[tuple[OrderTerm, ...], list[Any]]:
    """The total order a cursor of relation was made in, and its values bound to the columns.

    A 400 (GrammarError) when the cursor is not one of this relation's, or when `order=`
    (asked) is not the beginning of the cursor's order.
    """
    invalid = GrammarError(
        "the cursor is not valid for this table", hint="start again without cursor="
    )
    try:
        spec, texts = decode(cursor)
        order = parse_order(spec)
        if len(texts) != len(order) or keyset_order(relation, order) != order:
            raise invalid
        values = [
            coerce_value(relation.column(t.column), text)
            for t, text in zip(order, texts, strict=True)
        ]
    except (BadCursor, GrammarError, NotInCatalog):
        raise invalid from None
    sort = [(term.column, term.descending) for term in order]
    if asked and [(t.column, t.descending) for t in asked] != sort[: len(asked)]:
        raise GrammarError("order= differs from the order the cursor was made in")
    return order, values
