"""A whole read request: the query string as filters, selection (with embeds), order and paging.

`select=title,writer:authors(name),copies(copy_no,branches(name))` selects columns and
embeds related rows; parameters prefixed with an embed's path (`copies.order=copy_no.desc`,
`copies.limit=2`, `copies.condition=eq.new`) apply to that embed's rows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .api_error import ApiError
from .grammar import (
    MAX_CONDITIONS,
    MAX_VALUES,
    RESERVED,
    Condition,
    GrammarError,
    JsonStep,
    OrderTerm,
    count_conditions,
    count_values,
    parse_count,
    parse_field,
    parse_filter,
    parse_logic,
    parse_order,
    split_top_level,
)

# PostgreSQL refuses a select list longer than this; a request naming more could never run.
MAX_SELECT_ITEMS = 1664
_PAGING = ("order", "limit", "offset")
_LOGIC = ("or", "and", "not.or", "not.and")


@dataclass(frozen=True)
class SelectItem:
    """One selected column, possibly renamed, followed into JSON and cast: `a:col->k->>j::int`."""

    column: str  # "*" for count()
    alias: str | None = None
    path: tuple[JsonStep, ...] = ()
    cast: str | None = None  # of the column (before an aggregate)
    aggregate: str | None = None  # `col.sum()`: count, sum, avg, min or max
    aggregate_cast: str | None = None  # `col.sum()::text`

    @property
    def key(self) -> str:
        """The response key: the alias, the aggregate, or the path's last key (PostgREST's)."""
        keys = [step.key for step in self.path if isinstance(step.key, str)]
        return self.alias or self.aggregate or (keys[-1] if keys else self.column)


@dataclass(frozen=True)
class ReadRequest:
    """What a GET asks for, before names are checked against the catalog."""

    filters: tuple[Condition, ...] = ()
    select: tuple[SelectItem, ...] | None = None  # None: every column; (): none (embeds only)
    order: tuple[OrderTerm, ...] = ()
    limit: int | None = None
    offset: int = 0
    embeds: tuple[Embed, ...] = ()

    @property
    def aggregated(self) -> bool:
        """True when select= holds an aggregate: the rows are groups of the other columns."""
        return any(item.aggregate for item in self.select or ())


@dataclass(frozen=True)
class Embed:
    """Related rows to embed: `alias:relation!hint!inner(select...)`, with their own read.

    `!inner` keeps only the parent rows that have a matching embedded row; `...relation(...)`
    spreads the embedded columns into the parent row; `relation()` selects nothing and only
    filters (no key in the response).
    """

    relation: str
    alias: str | None = None
    hint: str | None = None
    read: ReadRequest = field(default_factory=ReadRequest)
    inner: bool = False
    spread: bool = False
    empty: bool = False

    @property
    def key(self) -> str:
        """The key the embedded rows have in each parent row."""
        return self.alias or self.relation


@dataclass(frozen=True)
class EmbedLimits:
    """How many embeds one request's whole select tree may hold, and how deep they may nest."""

    count: int  # MAX_EMBEDS
    depth: int  # MAX_EMBED_DEPTH
    aggregates: bool = False  # AGGREGATES: whether select= may hold count(), col.sum(), ...


DEFAULT_EMBED_LIMITS = EmbedLimits(count=10, depth=4)  # the settings' defaults


class _SelectBudget:
    """What the rest of one select= may hold, checked before each embed is parsed (and recursed)."""

    def __init__(self, limits: EmbedLimits):
        self.limits = limits
        self.embeds = 0
        self.items = 0

    def add_items(self, count: int) -> None:
        """Count a level's columns and embeds against PostgreSQL's select-list limit."""
        self.items += count
        if self.items > MAX_SELECT_ITEMS:
            raise GrammarError(
                f"select= lists more than {MAX_SELECT_ITEMS} columns and embeds, "
                "PostgreSQL's limit on a select list"
            )

    def enter_embed(self, depth: int) -> None:
        """Count one more embed, whose own select is parsed at depth."""
        self.embeds += 1
        count, deepest = self.limits.count, self.limits.depth
        if self.embeds > count:
            raise GrammarError(
                f"this request embeds more than {count} relations (MAX_EMBEDS={count})",
                hint="ask for fewer embeds in one request, or split it into several",
            )
        if depth > deepest:
            raise GrammarError(
                f"embeds nest more than {deepest} levels deep (MAX_EMBED_DEPTH={deepest})",
                hint="read the deeper levels with a request of their own",
            )


def parse_select(
    text: str | None, limits: EmbedLimits = DEFAULT_EMBED_LIMITS
) -> tuple[tuple[SelectItem, ...] | None, tuple[Embed, ...]]:
    """Parse `select=`: the columns (None for all) and the embeds, within the embed limits."""
    return _parse_level(text, 0, _SelectBudget(limits))


def _parse_level(
    text: str | None, depth: int, budget: _SelectBudget
) -> tuple[tuple[SelectItem, ...] | None, tuple[Embed, ...]]:
    """One level of select=: its columns and its embeds (each parsed one level deeper)."""
    if text is None or not text.strip():
        return None, ()
    columns: list[SelectItem] = []
    embeds: list[Embed] = []
    star = False
    parts = split_top_level(text.strip(), "select")
    budget.add_items(len(parts))
    for part in parts:
        if part == "*":
            star = True
        elif _AGGREGATE.search(part):
            columns.append(_parse_aggregate(part, text, budget.limits))
        elif "(" in part:
            budget.enter_embed(depth + 1)
            embeds.append(_parse_embed(part, depth, budget))
        else:
            columns.append(_parse_column(part, text))
    keys = Counter([item.key for item in columns] + [embed.key for embed in embeds])
    repeated = sorted(key for key, times in keys.items() if times > 1)
    if repeated:
        raise GrammarError(
            f"select names {', '.join(map(repr, repeated))} more than once",
            hint="rename one with alias:name",
        )
    if star:
        return None, tuple(embeds)
    # Only embeds: the parent's own columns are left out, as PostgREST does.
    return tuple(columns), tuple(embeds)


_ALIAS = re.compile(r"([^:]*):(?!:)")  # `alias:` but not the `::` of a cast
_AGGREGATE = re.compile(r"(?:^|[.:])(?:count|sum|avg|min|max)\(\)(?:::[^():]*)?$")
_AGGREGATE_ITEM = re.compile(
    r"(?:(?P<field>.+)\.)?(?P<function>count|sum|avg|min|max)\(\)(?:::(?P<cast>.*))?"
)


def _parse_aggregate(part: str, text: str, limits: EmbedLimits) -> SelectItem:
    """`count()`, `alias:col->k::int.sum()::text`: a column (or none, for count) aggregated."""
    if not limits.aggregates:
        raise ApiError(
            400,
            "Use of aggregate functions is not allowed",
            code="PGRST123",
            hint="the server enables them with AGGREGATES=true",
        )
    alias = _ALIAS.match(part)
    rest = part[alias.end() :] if alias else part
    found = _AGGREGATE_ITEM.fullmatch(rest)
    if not found or (found["cast"] is not None and not found["cast"].strip()):
        raise GrammarError(f"malformed aggregate {part!r} in select={text!r}")
    function, field = found["function"], found["field"]
    if field is None and function != "count":
        raise GrammarError(f"{function}() needs a column, as in select=price.{function}()")
    item = _parse_column(field, text) if field else SelectItem("*")
    cast = found["cast"].strip() if found["cast"] else None
    return replace(
        item, alias=alias.group(1) if alias else None, aggregate=function, aggregate_cast=cast
    )


def _parse_column(part: str, text: str) -> SelectItem:
    """`column`, `alias:column`, with a JSON path `col->a->>b` and a cast `::type`."""
    alias = _ALIAS.match(part)
    rest = part[alias.end() :] if alias else part
    field, sep, cast = rest.partition("::")
    column, path = parse_field(field)
    malformed = not column or (alias and not alias.group(1)) or ")" in part
    if malformed or (sep and (not cast.strip() or "::" in cast)):
        raise GrammarError(f"empty or malformed name {part!r} in select={text!r}")
    return SelectItem(column, alias.group(1) if alias else None, path, cast.strip() or None)


def _parse_embed(part: str, depth: int, budget: _SelectBudget) -> Embed:
    """`alias:relation!hint!inner(inner select)`, or `...relation(...)` to spread it."""
    head, _, rest = part.partition("(")
    if not rest.endswith(")"):
        raise GrammarError(f"embed {part!r} must end with ')'")
    embed = _embed_head(head, part)
    inner = rest[:-1]
    if not inner:  # relation(): nothing selected, only filters the parents
        return replace(embed, read=ReadRequest(select=()), empty=True)
    columns, embeds = _parse_level(inner, depth + 1, budget)
    return replace(embed, read=ReadRequest(select=columns, embeds=embeds))


def _embed_head(head: str, part: str) -> Embed:
    """What comes before an embed's `(`: spread, alias, relation, hint and join."""
    spread = head.startswith("...")
    alias, colon, target = head.removeprefix("...").partition(":")
    if not colon:
        alias, target = "", alias
    if target.startswith("..."):
        raise GrammarError(f"a spread embed ({part!r}) takes no alias: its columns are lifted")
    name, *marks = target.split("!")
    joins = [mark for mark in marks if mark in ("inner", "left")]
    hints = [mark for mark in marks if mark not in ("inner", "left")]
    if not name or "" in marks or len(hints) > 1 or len(joins) > 1 or (colon and not alias):
        raise GrammarError(
            f"malformed embed {part!r}: write relation(...), alias:relation(...), "
            "relation!foreign_key(...) or relation!inner(...)"
        )
    hint = hints[0] if hints else None
    return Embed(name, alias or None, hint, inner=joins == ["inner"], spread=spread)


def parse_read(
    args: Mapping[str, str] | object, limits: EmbedLimits = DEFAULT_EMBED_LIMITS
) -> ReadRequest:
    """Parse a GET's query string (a werkzeug MultiDict) into a ReadRequest with its embeds."""
    columns, embeds = parse_select(args.get("select"), limits)  # type: ignore[attr-defined]
    paths = _embed_paths(embeds)
    params: dict[str, list[tuple[str, str]]] = {}
    for key, value in args.items(multi=True):  # type: ignore[attr-defined]
        if "\x00" in key or "\x00" in value:
            raise GrammarError(
                "the query string contains a NUL character, which PostgreSQL refuses"
            )
        path, name = _split_path(key, paths)
        params.setdefault(path, []).append((name, value))
    read = _build_read(params.get("", []), columns, embeds, params, "")
    if count_conditions(_all_filters(read)) > MAX_CONDITIONS:
        raise GrammarError(f"more than {MAX_CONDITIONS} filter conditions in one request")
    if count_values(_all_filters(read)) > MAX_VALUES:
        raise GrammarError(f"more than {MAX_VALUES} filter values in one request")
    return read


def _build_read(pairs, columns, embeds, params, path) -> ReadRequest:
    """One level's ReadRequest from its (name, value) pairs, with its embeds' reads inside."""
    filters: list[Condition] = []
    paging: dict[str, str] = {}
    for name, value in pairs:
        if name in _LOGIC:
            filters.append(parse_logic(name, value))
        elif name in _PAGING:
            paging[name] = value
        elif name not in RESERVED:
            filters.append(parse_filter(name, value))
    nested = tuple(
        replace(
            embed,
            read=_build_read(
                params.get(f"{path}{embed.key}", []),
                embed.read.select,
                embed.read.embeds,
                params,
                f"{path}{embed.key}.",
            ),
        )
        for embed in embeds
    )
    return ReadRequest(
        filters=tuple(filters),
        select=columns,
        order=parse_order(paging.get("order")),
        limit=parse_count("limit", paging.get("limit")),
        offset=parse_count("offset", paging.get("offset")) or 0,
        embeds=nested,
    )


def _embed_paths(embeds: tuple[Embed, ...], prefix: str = "") -> set[str]:
    """Every embed's dotted path by key: {"copies", "copies.branches"}."""
    paths = set()
    for embed in embeds:
        path = prefix + embed.key
        paths.add(path)
        paths |= _embed_paths(embed.read.embeds, path + ".")
    return paths


def _split_path(key: str, paths: set[str]) -> tuple[str, str]:
    """`copies.order` -> ("copies", "order") when copies is embedded; else ("", key)."""
    if "." in key and key not in _LOGIC:
        path, _, name = key.rpartition(".")
        if path in paths:
            return path, name
        # A logic tree on an embed: copies.or=(...)
        head, _, tail = path.rpartition(".")
        if tail == "not" and head in paths:
            return head, f"not.{name}"
    return "", key


def _all_filters(read: ReadRequest) -> tuple[Condition, ...]:
    """The filters of a read and of all its embeds."""
    found = list(read.filters)
    for embed in read.embeds:
        found.extend(_all_filters(embed.read))
    return tuple(found)
