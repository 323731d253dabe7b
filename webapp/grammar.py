"""The query-string grammar (PostgREST's): filters, select, order, limit and offset.

Parsing only: this module turns request text into small immutable values and
knows nothing of SQL or of the catalog. `query.py` resolves the names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict", "or", "and"})
OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is"})
IS_VALUES = frozenset({"null", "true", "false", "unknown"})
MAX_IN_VALUES = 1000


class GrammarError(ValueError):
    """The request's query string does not follow the grammar; the message says where."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Filter:
    """column op value, possibly negated: `title=not.ilike.*war*`."""

    column: str
    op: str
    value: str | tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class OrderTerm:
    """One sort key: `published_on.desc.nullslast`."""

    column: str
    descending: bool = False
    nulls: str | None = None  # "first", "last" or None for PostgreSQL's default


@dataclass(frozen=True)
class ReadRequest:
    """What a GET asks for, before names are checked against the catalog."""

    filters: tuple[Filter, ...] = ()
    select: tuple[str, ...] | None = None
    order: tuple[OrderTerm, ...] = ()
    limit: int | None = None
    offset: int = 0


def parse_filter(column: str, text: str) -> Filter:
    """Parse the value side of `column=op.value` (`not.` may come first)."""
    if not column:
        raise GrammarError("a filter needs a column name before '='")
    negated = False
    op, dot, rest = text.partition(".")
    if op == "not":
        negated = True
        op, dot, rest = rest.partition(".")
    if op not in OPERATORS:
        raise GrammarError(
            f"unknown operator {op!r} in filter on {column!r}",
            hint="use one of " + ", ".join(sorted(OPERATORS)) + ", as in col=eq.value",
        )
    if not dot:
        raise GrammarError(
            f"filter on {column!r} has no value after {op!r}", hint=f"write {column}={op}.value"
        )
    if op == "in":
        return Filter(column, op, parse_in_list(column, rest), negated)
    if op == "is" and rest.lower() not in IS_VALUES:
        raise GrammarError(f"is.{rest} on {column!r}: 'is' takes null, true, false or unknown")
    return Filter(column, op, rest.lower() if op == "is" else rest, negated)


def parse_in_list(column: str, text: str) -> tuple[str, ...]:
    """Parse `(a,b,"c,d")`: comma-separated, double quotes around values with commas or parens."""
    if len(text) < 2 or text[0] != "(" or text[-1] != ")":
        raise GrammarError(f"in-list for {column!r} must be in parentheses: in.(a,b,c)")
    values = _split_list(text[1:-1], column)
    if len(values) > MAX_IN_VALUES:
        raise GrammarError(
            f"in-list for {column!r} has {len(values)} values; at most {MAX_IN_VALUES}"
        )
    return tuple(values)


def _split_list(body: str, column: str) -> list[str]:
    """Split on commas outside double quotes; backslash escapes inside quotes."""
    if body == "":
        return []
    values, current, quoted, i = [], [], False, 0
    was_quoted = False
    while i < len(body):
        char = body[i]
        if quoted:
            if char == "\\" and i + 1 < len(body):
                current.append(body[i + 1])
                i += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted, was_quoted = True, True
        elif char == ",":
            values.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
        i += 1
    if quoted:
        raise GrammarError(f"unbalanced double quote in the list for {column!r}")
    values.append("".join(current) if was_quoted else "".join(current).strip())
    return values


def parse_select(text: str | None) -> tuple[str, ...] | None:
    """Parse `select=a,b,c` (or `*`); None means every column."""
    if text is None or text.strip() in ("", "*"):
        return None
    names = tuple(part.strip() for part in text.split(","))
    if any(not name for name in names):
        raise GrammarError(f"empty column name in select={text!r}")
    return names


def parse_order(text: str | None) -> tuple[OrderTerm, ...]:
    """Parse `order=a.desc.nullslast,b`."""
    if not text:
        return ()
    terms = []
    for part in text.split(","):
        column, *modifiers = part.strip().split(".")
        if not column:
            raise GrammarError(f"empty column name in order={text!r}")
        descending, nulls = False, None
        for modifier in modifiers:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls = modifier[len("nulls") :]
            else:
                raise GrammarError(
                    f"unknown order modifier {modifier!r} for {column!r}",
                    hint="use asc, desc, nullsfirst or nullslast",
                )
        terms.append(OrderTerm(column, descending, nulls))
    return tuple(terms)


def parse_count(name: str, text: str | None) -> int | None:
    """Parse limit or offset: a non-negative integer, or None when absent."""
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise GrammarError(f"{name}={text!r} must be a non-negative integer")
    return int(text)


def parse_read(args: Mapping[str, str] | object) -> ReadRequest:
    """Parse a GET's query string (a werkzeug MultiDict) into a ReadRequest."""
    filters = []
    for key, value in args.items(multi=True):  # type: ignore[attr-defined]
        if key in ("or", "and"):
            raise GrammarError(
                f"{key}=(...) logic trees are not supported yet", hint="combine filters with &"
            )
        if key in RESERVED:
            continue
        filters.append(parse_filter(key, value))
    return ReadRequest(
        filters=tuple(filters),
        select=parse_select(args.get("select")),  # type: ignore[attr-defined]
        order=parse_order(args.get("order")),  # type: ignore[attr-defined]
        limit=parse_count("limit", args.get("limit")),  # type: ignore[attr-defined]
        offset=parse_count("offset", args.get("offset")) or 0,  # type: ignore[attr-defined]
    )
