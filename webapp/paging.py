"""paginate(): one page of any statement, by page number or by keyset, for hand-written views.

Page size comes from `per_page` in the query string (or the caller), capped by
`max_per_page`, which only the code sets. The total is counted only when asked
(`count=True`). Keyset mode (`keyset=`) starts after (or before) a cursor that holds
the last row's sort values, so a deep page costs what the first one costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.sql import operators

from db.session import Session

from .app.urls import view_url_builder
from .errors import ApiError
from .lookups import rows_of
from .pipeline import cursors
from .pipeline.coercion import coerce_value
from .pipeline.counts import exact_count
from .pipeline.grammar import GrammarError

DEFAULT_PER_PAGE = 20


@dataclass(frozen=True)
class Pagination:
    """One page of rows (or objects) and what a template needs to link to the others."""

    items: list[Any]
    page: int | None  # None in keyset mode
    per_page: int
    total: int | None  # None unless counted
    has_next: bool
    has_prev: bool
    next_cursor: str | None = None  # keyset mode
    prev_cursor: str | None = None
    _url: Callable[..., str | None] = field(default=lambda **changes: None, repr=False)

    @property
    def pages(self) -> int | None:
        """How many pages there are, when the total was counted."""
        return None if self.total is None else max(1, -(-self.total // self.per_page))

    @property
    def next_num(self) -> int | None:
        """The next page's number (page mode)."""
        return self.page + 1 if self.page is not None and self.has_next else None

    @property
    def prev_num(self) -> int | None:
        """The previous page's number (page mode)."""
        return self.page - 1 if self.page is not None and self.has_prev else None

    @property
    def first(self) -> int:
        """The 1-based position of this page's first item (0 when empty; page mode)."""
        return (self.page - 1) * self.per_page + 1 if self.items and self.page else 0

    @property
    def last(self) -> int:
        """The 1-based position of this page's last item (0 when empty; page mode)."""
        return self.first + len(self.items) - 1 if self.items and self.page else 0

    @property
    def next_url(self) -> str | None:
        """This view's URL for the next page, if there is one."""
        if not self.has_next:
            return None
        if self.page is None:
            return self._url(after=self.next_cursor, before=None)
        return self._url(page=self.next_num)

    @property
    def prev_url(self) -> str | None:
        """This view's URL for the previous page, if there is one."""
        if not self.has_prev:
            return None
        if self.page is None:
            return self._url(before=self.prev_cursor, after=None)
        return self._url(page=self.prev_num)

    def iter_pages(
        self,
        *,
        left_edge: int = 2,
        left_current: int = 2,
        right_current: int = 4,
        right_edge: int = 2,
    ) -> Iterator[int | None]:
        """Page numbers for a pager, None for a gap: 1 2 None 7 8 [9] 10 11 12 13 None 30 31."""
        if self.pages is None or self.page is None:
            return
        shown = set(range(1, left_edge + 1))
        shown |= set(range(self.page - left_current, self.page + right_current + 1))
        shown |= set(range(self.pages - right_edge + 1, self.pages + 1))
        previous = 0
        for number in sorted(n for n in shown if 1 <= n <= self.pages):
            if number > previous + 1:
                yield None
            yield number
            previous = number

    def __iter__(self) -> Iterator[Any]:
        """The items of the page."""
        return iter(self.items)

    def __len__(self) -> int:
        """How many items the page holds."""
        return len(self.items)


@dataclass(frozen=True, eq=False)
class _Key:
    """One keyset sort key: the column expression and its direction."""

    expression: sa.ColumnElement[Any]
    descending: bool


def paginate(
    statement: sa.Select,
    *,
    page: int | None = None,
    per_page: int | None = None,
    max_per_page: int = 100,
    count: bool = False,
    keyset: Any = None,
) -> Pagination:
    """One page of the statement's rows (objects for select(SomeClass)).

    page and per_page default to the query string's `page` and `per_page` (else 1 and
    20); per_page is capped at max_per_page. count=True adds the total. keyset= (a
    column, `sa.desc(column)`, or a sequence of them ending with a unique one) pages
    after the `after=` (or before the `before=`) cursor instead, in that order. The
    statement's own LIMIT and OFFSET (and, with keyset=, its ORDER BY) are replaced.
    """
    size = min(_positive("per_page", per_page, DEFAULT_PER_PAGE), max_per_page)
    if keyset is not None:
        return _keyset_page(statement, _keys(keyset), size, count)
    number = _positive("page", page, 1)
    offset = (number - 1) * size
    rows = _fetch(statement.limit(size + 1).offset(offset), statement)
    items, has_next = rows[:size], len(rows) > size
    if not items and number > 1:
        raise ApiError(404, f"page {number} is past the last page")
    total = None
    if count:
        total = (
            offset + len(items) if not has_next else exact_count(Session.connection(), statement)
        )
    return Pagination(items, number, size, total, has_next, number > 1, _url=view_url_builder())


def _keyset_page(statement: sa.Select, keys: list[_Key], size: int, count: bool) -> Pagination:
    """The page after (or before) the request's cursor, in the keys' order."""
    after, before = _arg("after"), _arg("before")
    if after and before:
        raise ApiError(400, "after= and before= do not go together")
    items, more = _keyset_rows(statement, keys, size, after or before, backwards=bool(before))
    has_next, has_prev = (True, more) if before else (more, bool(after))
    has_next, has_prev = has_next and bool(items), has_prev and bool(items)
    return Pagination(
        items,
        None,
        size,
        exact_count(Session.connection(), statement) if count else None,
        has_next,
        has_prev,
        next_cursor=encode_cursor(keys, items[-1]) if has_next else None,
        prev_cursor=encode_cursor(keys, items[0]) if has_prev else None,
        _url=view_url_builder(),
    )


def _keyset_rows(
    statement: sa.Select, keys: list[_Key], size: int, cursor: str | None, backwards: bool
) -> tuple[list[Any], bool]:
    """Up to size rows past the cursor (before it, backwards), in the keys' order; more follow?"""
    ordered = statement.order_by(None).order_by(*(_direction(key, flip=backwards) for key in keys))
    if cursor:
        ordered = ordered.where(_past(keys, decode_cursor(keys, cursor), backwards))
    rows = _fetch(ordered.limit(size + 1), statement)
    items, more = rows[:size], len(rows) > size
    if backwards:
        items.reverse()
    return items, more


def encode_cursor(keys: list[_Key], item: Any) -> str:
    """The opaque cursor of an item: its sort values, in the one codec (pipeline/cursors.py)."""
    return cursors.encode(_spec(keys), _key_values(keys, item))


def decode_cursor(keys: list[_Key], cursor: str) -> list[Any]:
    """The bound values of a cursor; a 400 for one that was altered or made for other keys."""
    try:
        spec, texts = cursors.decode(cursor)
        if spec != _spec(keys) or len(texts) != len(keys):
            raise cursors.BadCursor(cursor)
        return [coerce_value(key.expression, text) for key, text in zip(keys, texts, strict=True)]
    except (cursors.BadCursor, GrammarError):
        raise ApiError(400, "the cursor is not valid here", hint="start again without it") from None


def _spec(keys: list[_Key]) -> str:
    """The keys as a cursor's spec: each expression's name and direction."""
    return ",".join(f"{key.expression.key}.{'desc' if key.descending else 'asc'}" for key in keys)


def _past(keys: list[_Key], values: list[Any], backwards: bool) -> sa.ColumnElement[bool]:
    """Rows beyond the cursor in the direction walked (backwards: each key the other way)."""
    return cursors.past([(key.expression, key.descending != backwards) for key in keys], values)


def _keys(keyset: Any) -> list[_Key]:
    """The keyset argument as keys: one expression or a sequence, each maybe sa.desc()."""
    given = (
        list(keyset) if isinstance(keyset, Sequence) and not isinstance(keyset, str) else [keyset]
    )
    keys = []
    for item in given:
        descending = isinstance(item, sa.UnaryExpression) and item.modifier is operators.desc_op
        target = item.element if isinstance(item, sa.UnaryExpression) else item
        keys.append(_Key(target.expression, descending))  # an ORM attribute gives its column
    return keys


def _direction(key: _Key, flip: bool) -> sa.ColumnElement[Any]:
    """ORDER BY term of a key, reversed when walking backwards."""
    return key.expression.desc() if key.descending != flip else key.expression.asc()


def _key_values(keys: list[_Key], item: Any) -> list[Any]:
    """The sort values of one item: a Row by column, an object by attribute."""
    if isinstance(item, sa.Row):
        try:
            return [item._mapping[key.expression] for key in keys]
        except KeyError as exc:
            raise TypeError(f"keyset column {exc} is not among the selected columns") from None
    return [getattr(item, key.expression.key) for key in keys]  # automap: attribute = column


def _fetch(statement: sa.Select, original: sa.Select) -> list[Any]:
    """All rows of a limited statement: objects when the original selects one mapped class."""
    return list(rows_of(Session.execute(statement), original).all())


def _positive(name: str, given: int | None, default: int) -> int:
    """A page or size from the caller, else the query string, else the default; 400 if not >= 1."""
    if given is None:
        text = _arg(name)
        if text is None:
            return default
        # At most 10 digits before int(): Python refuses to convert more than 4,300.
        if (
            not (text.isascii() and text.isdigit() and len(text) <= 10)
            or not 1 <= int(text) <= 2**31
        ):
            raise ApiError(400, f"{name}={text[:40]!r} must be a positive whole number")
        return int(text)
    if given < 1:
        raise ApiError(400, f"{name} must be at least 1")
    return given


def _arg(name: str) -> str | None:
    """A query-string value of the current request (None outside a request)."""
    return request.args.get(name) if has_request_context() else None
