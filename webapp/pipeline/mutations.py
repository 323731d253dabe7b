"""Writes: request bodies checked against the catalog, and INSERT/UPDATE/DELETE statements.

One request is one statement in one transaction: a multi-row POST is a single
INSERT, so one bad row means no row is written.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.catalog import Relation

from .api_error import ApiError
from .grammar import GrammarError, parse_names
from .query import Untyped, coerce_value, condition_clause, lone_surrogate, python_type
from .reads import ReadRequest

# Below the driver's limit of 65,535 parameters per statement.
MAX_BOUND_VALUES = 60_000
# Levels a jsonb value of a body may nest: jsonb parameters are encoded by orjson (db/engine.py),
# which stops at 254 levels; deeper would be a 500 there.
MAX_JSON_DEPTH = 200
MAX_ARRAY_DIMENSIONS = 6  # PostgreSQL's MAXDIM
# A \ud800-\udfff escape, or a surrogate's own bytes (json.loads decodes with surrogatepass).
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def parse_body(raw: bytes) -> list[dict[str, Any]]:
    """A JSON object or array of objects from the request body (numbers kept exact)."""
    try:
        data = json.loads(raw, parse_float=Decimal) if raw else None
    except (ValueError, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiError(400, f"the body is not valid JSON: {reason}", code="PGRST102") from None
    if _MAYBE_SURROGATE.search(raw) and _holds_lone_surrogate(data):
        raise ApiError(
            400,
            "the body is not valid Unicode: it holds a lone surrogate"
            " (a \\ud800-\\udfff escape without its pair)",
            code="PGRST102",
        )
    rows = data if isinstance(data, list) else [data]
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise ApiError(
            400, "the body must be a JSON object or a non-empty array of objects", code="PGRST102"
        )
    return rows


def json_containers(value: Any) -> Iterator[tuple[dict | list, int]]:
    """The arrays and objects of parsed JSON, each with its level (1 at the top), no recursion."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, level = stack.pop()
        yield node, level
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))


def nests_deeper(value: Any, levels: int) -> bool:
    """True when value has arrays or objects more than levels deep ([[1]] is 2 levels)."""
    return any(level > levels for _, level in json_containers(value))


def _holds_lone_surrogate(data: Any) -> bool:
    """True when a string of parsed JSON, a key or a value, holds a lone surrogate."""
    for node, _ in json_containers(data):
        items = chain(node, node.values()) if isinstance(node, dict) else node
        if any(isinstance(item, str) and lone_surrogate(item) for item in items):
            return True
    return False


def payload_columns(relation: Relation, rows: list[dict], columns: str | None) -> list[str]:
    """The columns a write sets: `columns=` if given, else every key of the body's rows."""
    if columns:
        names = parse_names(columns)
    else:
        names = list(dict.fromkeys(key for row in rows for key in row))
    for name in names:
        if name not in relation.table.columns or name in relation.hidden:
            raise ApiError(
                400, f"column {name!r} does not exist in {relation.qualified_name}", code="PGRST204"
            )
    if not names:
        raise ApiError(400, "the body names no columns", code="PGRST102")
    return names


def coerce_json(column: sa.Column, value: Any, row: int | None = None) -> Any:
    """Convert one JSON value for a column; a value that cannot fit is a 400 naming it."""
    where = f"row {row}: " if row is not None else ""
    if value is None:
        return None
    kind = python_type(column)
    if isinstance(column.type, sa.JSON):
        return _json_document(column, value, where)
    if kind is bytes:
        return _base64_bytes(column, value, where)
    if kind is list:
        return _array_value(column, value, where)
    _check_scalar(column, kind, value, where)
    if isinstance(value, str):
        try:
            return coerce_value(column, value)
        except GrammarError as exc:
            raise GrammarError(where + exc.message) from None
    return value


def _json_document(column: sa.Column, value: Any, where: str) -> Any:
    """A json/jsonb column's value as sent, unless it nests past MAX_JSON_DEPTH."""
    if nests_deeper(value, MAX_JSON_DEPTH):
        raise ApiError(
            400,
            f"{where}the value for column {column.name!r} nests more than"
            f" {MAX_JSON_DEPTH} levels deep",
            code="PGRST102",
        )
    return value


def _base64_bytes(column: sa.Column, value: Any, where: str) -> bytes:
    """A bytea column's value: base64 text, decoded."""
    if not isinstance(value, str):
        raise GrammarError(f"{where}column {column.name!r} takes base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise GrammarError(f"{where}column {column.name!r} takes base64 text") from None


def _array_value(column: sa.Column, value: Any, where: str) -> sa.BindParameter:
    """An array column's value: a JSON array of plain values, as PostgreSQL array text."""
    if not isinstance(value, list):
        raise GrammarError(f"{where}column {column.name!r} takes an array")
    if nests_deeper(value, MAX_ARRAY_DIMENSIONS):
        raise GrammarError(
            f"{where}column {column.name!r} takes arrays of at most"
            f" {MAX_ARRAY_DIMENSIONS} dimensions"
        )
    try:
        # Sent as PostgreSQL's array text, untyped: the column's element type parses it.
        return sa.bindparam(None, array_literal(value), type_=Untyped())
    except TypeError:
        raise GrammarError(
            f"{where}column {column.name!r} takes an array of plain values"
        ) from None


def _check_scalar(column: sa.Column, kind: type | None, value: Any, where: str) -> None:
    """A 400 for a JSON value this scalar column cannot take (an object, a fraction for an int)."""
    if isinstance(value, dict | list):
        raise GrammarError(
            f"{where}column {column.name!r} takes a single value, not JSON {type(value).__name__}"
        )
    if (kind is bool) != isinstance(value, bool) and not isinstance(value, str):
        raise GrammarError(f"{where}{value!r} does not fit column {column.name!r}")
    if getattr(column.type, "enums", None) and not isinstance(value, str):
        raise GrammarError(f"{where}column {column.name!r} takes one of its values as text")
    if kind is int and isinstance(value, Decimal | float) and value != int(value):
        raise GrammarError(f"{where}{value} is not an integer, as column {column.name!r} requires")


def array_literal(values: list) -> str:
    """A JSON array as PostgreSQL array text: {"a","b"}, {{1,2},{3,4}}; TypeError for objects."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, list):
            parts.append(array_literal(value))
        elif isinstance(value, bool):
            parts.append("true" if value else "false")
        elif isinstance(value, int | Decimal | str):
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'"{text}"')
        else:
            raise TypeError(type(value).__name__)
    return "{" + ",".join(parts) + "}"


def insert_rows(relation: Relation, rows: list[dict], names: list[str], *, missing_default: bool):
    """The column -> value dicts of a multi-row INSERT, converted and checked, row by row."""
    if len(rows) * len(names) > MAX_BOUND_VALUES:
        raise ApiError(
            413,
            f"{len(rows)} rows of {len(names)} columns are more values than one statement takes",
            code="54000",
            hint=f"send at most {MAX_BOUND_VALUES // len(names)} rows per request",
        )
    default = sa.literal_column("DEFAULT")
    values = []
    for index, row in enumerate(rows):
        converted = {}
        for name in names:
            if name in row:
                converted[name] = coerce_json(relation.table.columns[name], row[name], index)
            else:
                converted[name] = default if missing_default else None
        values.append(converted)
    return values


def insert_statement(
    relation: Relation, values: list[dict], resolution: str | None, on_conflict: str | None
) -> sa.Insert:
    """INSERT ... VALUES (...), (...) [ON CONFLICT ...] RETURNING every column."""
    table = relation.table
    stmt = pg_insert(table).values(values)
    if resolution:
        keys = conflict_columns(relation, on_conflict)
        if resolution == "ignore-duplicates":
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            updated = {name: stmt.excluded[name] for name in values[0] if name not in keys}
            stmt = (
                stmt.on_conflict_do_update(index_elements=keys, set_=updated)
                if updated
                else stmt.on_conflict_do_nothing(index_elements=keys)
            )
    return stmt.returning(*relation.columns)


def conflict_columns(relation: Relation, on_conflict: str | None) -> list[str]:
    """The columns of on_conflict=, or the primary key; each must exist."""
    if on_conflict:
        names = parse_names(on_conflict)
        for name in names:
            relation.column(name)
        return names
    if not relation.primary_key:
        raise ApiError(
            400,
            f"{relation.qualified_name} has no primary key: name the unique "
            "columns with on_conflict=",
            code="PGRST120",
        )
    return list(relation.primary_key)


def assignments(relation: Relation, body: dict, names: list[str]) -> dict[str, Any]:
    """The SET of a PATCH: converted values for the named columns."""
    return {name: coerce_json(relation.table.columns[name], body.get(name)) for name in names}


def require_writable(relation: Relation, command: str) -> None:
    """405 when PostgreSQL would refuse the command on this relation (a view, a matview)."""
    if command not in relation.writable:
        raise ApiError(
            405,
            f"{relation.qualified_name} is a {relation.kind} that does not accept {command}",
            code="PGRST205" if relation.is_view else "HTTP405",
            hint="write to its underlying tables instead" if relation.is_view else None,
        )


def where_clauses(relation: Relation, read: ReadRequest) -> list[sa.ColumnElement[bool]]:
    """The WHERE of a PATCH or DELETE; refused without any filter, so no write hits every row."""
    if not read.filters:
        raise ApiError(
            400,
            f"a filter is required to change rows of {relation.qualified_name}",
            code="21000",  # what pg-safeupdate answers for an UPDATE or DELETE without WHERE
            hint="add one, e.g. ?id=eq.1; to change every row, say so: ?id=not.is.null",
        )
    if read.limit is not None or read.order or read.offset:
        raise ApiError(400, "limit, offset and order are not supported on writes", code="PGRST100")
    return [condition_clause(relation, condition) for condition in read.filters]


def update_statement(relation: Relation, values: dict, read: ReadRequest) -> sa.Update:
    """UPDATE ... SET ... WHERE <filters> RETURNING every column."""
    table = relation.table
    return (
        sa.update(table)
        .values(values)
        .where(*where_clauses(relation, read))
        .returning(*relation.columns)
    )


def delete_statement(relation: Relation, read: ReadRequest) -> sa.Delete:
    """DELETE ... WHERE <filters> RETURNING every column."""
    table = relation.table
    return sa.delete(table).where(*where_clauses(relation, read)).returning(*relation.columns)
