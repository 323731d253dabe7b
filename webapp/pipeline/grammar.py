"""The query-string grammar (PostgREST's): filters, logic trees, order, limit and offset.

Parsing only: this module turns request text into small immutable values and
knows nothing of SQL or of the catalog. `reads.py` puts a whole request together;
`query.py` resolves the names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .api_error import ApiError

RESERVED = frozenset(
    {"select", "order", "limit", "offset", "columns", "on_conflict", "or", "and", "cursor"}
)
OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is"})
# PostgREST's operators: those not in OPERATORS are PGRST127 (not implemented), not a typo.
POSTGREST_OPERATORS = OPERATORS | frozenset(
    [
        "match",
        "imatch",
        "isdistinct",
        "fts",
        "plfts",
        "phfts",
        "wfts",
        "cs",
        "cd",
        "ov",
        "sl",
        "sr",
        "nxr",
        "nxl",
        "adj",
    ]
)
IS_VALUES = frozenset({"null", "true", "false", "unknown"})
MAX_IN_VALUES = 1000
MAX_TREE_DEPTH = 8
MAX_CONDITIONS = 200
MAX_VALUES = 5000  # bound values per request, well under the driver's 65,535 parameters


class GrammarError(ValueError):
    """The request's query string does not follow the grammar; the message says where."""

    def __init__(self, message: str, hint: str | None = None, code: str = "PGRST100"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = (
            code  # PGRST100 (PostgREST's parse error), or the SQLSTATE PostgreSQL would give
        )


@dataclass(frozen=True)
class Filter:
    """column op value, possibly negated: `title=not.ilike.*war*`."""

    column: str
    op: str
    value: str | tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Logic:
    """A logic tree: `or=(a.eq.1,and(b.gt.2,c.is.null))`, possibly negated."""

    op: str  # "and" or "or"
    conditions: tuple[Filter | Logic, ...]
    negated: bool = False


Condition = Filter | Logic


@dataclass(frozen=True)
class OrderTerm:
    """One sort key: `published_on.desc.nullslast`."""

    column: str
    descending: bool = False
    nulls: str | None = None  # "first", "last" or None for PostgreSQL's default


def parse_filter(column: str, text: str) -> Filter:
    """Parse the value side of `column=op.value` (`not.` may come first)."""
    if not column:
        raise GrammarError("a filter needs a column name before '='")
    negated = False
    op, dot, rest = text.partition(".")
    if op == "not":
        negated = True
        op, dot, rest = rest.partition(".")
    if op.partition("(")[0] in POSTGREST_OPERATORS - OPERATORS:  # fts(english), like(any)
        raise GrammarError(
            f"the {op!r} operator (filter on {column!r}) is not supported yet",
            hint="use one of " + ", ".join(sorted(OPERATORS)),
            code="PGRST127",
        )
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
    if not text[1:-1].strip():
        return ()  # as PostgREST: in.() matches no row, not.in.() every row
    values = _split_list(text[1:-1], column)
    if len(values) > MAX_IN_VALUES:
        raise GrammarError(
            f"in-list for {column!r} has {len(values)} values; at most {MAX_IN_VALUES}"
        )
    return tuple(values)


def _split_list(body: str, column: str) -> list[str]:
    """Split on commas; a value may be in double quotes (backslash escapes inside), as a whole."""
    values, i = [], 0
    while True:
        start = i
        while i < len(body) and body[i] == " ":
            i += 1
        if i < len(body) and body[i] == '"':
            value, i = _quoted_value(body, i + 1, column)
            while i < len(body) and body[i] == " ":
                i += 1
            if i < len(body) and body[i] != ",":
                raise GrammarError(
                    f"in the list for {column!r}, a quoted value must be followed by ',' or ')'"
                )
        else:
            end = body.find(",", i)
            end = len(body) if end < 0 else end
            value, i = body[start:end].strip(), end
            if ")" in value:
                raise GrammarError(f"unbalanced parentheses in the list for {column!r}")
        values.append(value)
        if i >= len(body):
            return values
        i += 1  # the comma


def _quoted_value(body: str, i: int, column: str) -> tuple[str, int]:
    """The value of a double-quoted list item starting after its quote, and the index past it."""
    chars = []
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            chars.append(body[i + 1])
            i += 2
        elif char == '"':
            return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    raise GrammarError(f"unbalanced double quote in the list for {column!r}")


def parse_names(text: str) -> list[str]:
    """A comma-separated list of column names, each possibly in double quotes (`"a","b"`)."""
    names = []
    for part in text.split(","):
        name = part.strip()
        if len(name) >= 2 and name[0] == '"' == name[-1]:
            name = name[1:-1].replace('""', '"')
        if name:
            names.append(name)
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
    if name.endswith("limit") and re.fullmatch(r"-[0-9]{1,18}", text):
        raise ApiError(  # PostgREST's answer: a range error, not a parse error
            416,
            f"{name}={text} is negative",
            code="PGRST103",
            details="Limit should be greater than or equal to zero.",
        )
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise GrammarError(f"{name}={text!r} must be a non-negative integer")
    return int(text)


def parse_logic(key: str, text: str, depth: int = 0) -> Logic:
    """Parse a logic tree: key is `or`, `and`, `not.or` or `not.and`; text is `(cond,cond,...)`."""
    negated = key.startswith("not.")
    op = key.removeprefix("not.")
    if depth >= MAX_TREE_DEPTH:
        raise GrammarError(f"logic trees nest deeper than {MAX_TREE_DEPTH} levels")
    if len(text) < 2 or text[0] != "(" or text[-1] != ")":
        raise GrammarError(f"{key}= needs its conditions in parentheses: {key}=(a.eq.1,b.eq.2)")
    parts = split_top_level(text[1:-1], key)
    if not parts or any(not part for part in parts):
        raise GrammarError(f"empty condition in {key}={text}")
    return Logic(op, tuple(_parse_tree_item(part, depth + 1) for part in parts), negated)


def _parse_tree_item(text: str, depth: int) -> Condition:
    """One item of a logic tree: a nested tree `or(...)` or a condition `col.op.value`."""
    for prefix in ("not.or", "not.and", "or", "and"):
        if text.startswith(prefix + "("):
            return parse_logic(prefix, text[len(prefix) :], depth)
    column, dot, rest = text.partition(".")
    if not dot:
        raise GrammarError(f"condition {text!r} in a logic tree must look like column.op.value")
    condition = parse_filter(column, rest)
    if (
        isinstance(condition.value, str)
        and len(condition.value) >= 2
        and condition.value[0] == '"' == condition.value[-1]
    ):
        unquoted = condition.value[1:-1].replace('\\"', '"')
        condition = Filter(condition.column, condition.op, unquoted, condition.negated)
    return condition


def split_top_level(body: str, key: str) -> list[str]:
    """Split on commas outside parentheses and double quotes, keeping the text as it is."""
    parts, start, depth, quoted, i = [], 0, 0, False, 0
    while i < len(body):
        char = body[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise GrammarError(f"unbalanced parentheses in {key}=(...)")
        elif char == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
        i += 1
    if quoted or depth != 0:
        raise GrammarError(
            f"unbalanced {'double quote' if quoted else 'parentheses'} in {key}=(...)"
        )
    parts.append(body[start:].strip())
    return parts


def count_conditions(conditions: tuple[Condition, ...]) -> int:
    """How many leaf conditions a request carries."""
    return sum(
        count_conditions(item.conditions) if isinstance(item, Logic) else 1 for item in conditions
    )


def count_values(conditions: tuple[Condition, ...]) -> int:
    """How many values a request binds (each in-list element counts)."""
    return sum(
        count_values(item.conditions)
        if isinstance(item, Logic)
        else len(item.value)
        if isinstance(item.value, tuple)
        else 1
        for item in conditions
    )
