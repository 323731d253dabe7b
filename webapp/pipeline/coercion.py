"""Request text to typed, bound values: a filter's value, a cursor's, a key's.

Each value is converted to its column's Python type first, so a value the column cannot
read is a 400 naming the column (PostgreSQL's code, `22P02`) before any query is sent;
types without a Python converter are bound untyped, for PostgreSQL to read as the column's.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from .grammar import GrammarError

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


def valid_unicode(column: str, text: str) -> str:
    """text, or a GrammarError naming the column when it holds a lone surrogate."""
    if lone_surrogate(text):
        raise GrammarError(
            f"the value for column {column!r} is not valid Unicode: it holds a lone"
            " surrogate (a \\ud800-\\udfff escape without its pair)"
        )
    return text
