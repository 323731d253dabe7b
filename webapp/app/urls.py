"""Every URL the app builds, and the one way a value becomes query-string text.

A value in a link (a row's key, a filter's operand) is written by `query_value`, which the
grammar reads back to the same value; query strings are written by `with_query`. The API's
Location and Link headers, the pages' paging, sort and filter links, the row and
filtered-table links and `paginate()`'s next/previous links are all built here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, urlencode

from flask import has_request_context, request, url_for
from werkzeug.datastructures import MultiDict

from db.catalog import Relation

from ..databases import api_root
from .responses import TWIN_PARAMETER


def query_value(value: object) -> str:
    """A value as query-string text the grammar reads back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def with_query(path: str, pairs: Iterable[tuple[str, str]]) -> str:
    """path with the (key, value) pairs as its query string (none: no "?")."""
    pairs = list(pairs)
    return path + ("?" + urlencode(pairs) if pairs else "")


def this_path() -> str:
    """The current page's path, percent-encoded (request.path is decoded: spaces, #, ?)."""
    # The characters werkzeug leaves unquoted when it builds a URL; every other one is quoted.
    return quote(request.script_root + request.path, safe="/!$&'()*+,:;=@")


def url_with(
    path: str, args: MultiDict, drop: Iterable[str] = (), **changes: str | int | None
) -> str:
    """path with args, the keys in drop and in changes removed, then changes (not None) added."""
    removed = set(drop) | set(changes)
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in removed]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    return with_query(path, pairs)


def twin_url() -> str:
    """This page's URL for its JSON twin: the same query string plus `_format=json`."""
    name, value = TWIN_PARAMETER
    return url_with(this_path(), request.args, **{name: value})


def table_url(schema: str, name: str) -> str:
    """The table page of a relation."""
    return url_for("pages.table_page", schema=schema, name=name)


def structure_url(schema: str, name: str) -> str:
    """The structure page of a relation."""
    return url_for("structure.structure_page", schema=schema, name=name)


def row_url(relation: Relation, key: Mapping[str, object]) -> str:
    """The row page URL of the row with this primary key."""
    base = url_for("rows.row_page", schema=relation.schema, name=relation.name)
    return with_query(base, [(name, query_value(value)) for name, value in key.items()])


def filtered_url(relation: Relation, columns: tuple[str, ...], values: tuple) -> str:
    """The table page of relation filtered to rows whose columns equal values."""
    base = table_url(relation.schema, relation.name)
    pairs = [
        (name, "eq." + query_value(value)) for name, value in zip(columns, values, strict=True)
    ]
    return with_query(base, pairs)


def api_row_url(relation: Relation, row: Mapping[str, object]) -> str:
    """The API URL of one row, by its primary key (a write's Location header)."""
    pairs = [(name, "eq." + query_value(row[name])) for name in relation.primary_key]
    return with_query(f"{api_root()}/{quote(relation.name)}", pairs)


def rpc_url(name: str, pairs: Iterable[tuple[str, str]] = ()) -> str:
    """The API URL that calls a function, with its arguments (a GET) if given."""
    return with_query(f"{api_root()}/rpc/{quote(name, safe='')}", pairs)


def next_page_url(cursor: str, limit: int) -> str:
    """This API request's URL for the next page: the cursor, the page size, and no offset."""
    return url_with(this_path(), request.args, ("offset",), limit=limit, cursor=cursor)


def view_url_builder() -> Callable[..., str | None]:
    """Builds this view's URL with some query-string values changed (None: dropped)."""
    if not has_request_context() or request.endpoint is None:
        return lambda **changes: None
    path, args = this_path(), MultiDict(request.args)
    return lambda **changes: url_with(path, args, **changes)
