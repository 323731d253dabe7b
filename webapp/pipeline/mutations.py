"""Writes: request bodies checked against the catalog, and INSERT/UPDATE/DELETE statements.

One request is one statement in one transaction: a multi-row POST is a single
INSERT, so one bad row means no row is written.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
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
from .coercion import Untyped, coerce_value, lone_surrogate, python_type
from .filters import condition_clause
from .grammar import Filter, GrammarError, parse_names
from .query import order_clauses
from .reads import ReadRequest

DEFAULT = sa.literal_column("DEFAULT")
INSERTED = "_pgfront_inserted"  # the label of a merge's "was this row inserted" column
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
    if not all(isinstance(row, dict) for row in rows):
        raise ApiError(
            400, "the body must be a JSON object or an array of objects", code="PGRST102"
        )
    return rows


def parse_csv_body(raw: bytes) -> list[dict[str, Any]]:
    """Rows of a text/csv body: the first line names the columns; NULL (unquoted or not) is null."""
    try:
        records = [record for record in csv.reader(io.StringIO(raw.decode("utf-8"))) if record]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ApiError(400, f"the body is not valid CSV: {exc}", code="PGRST102") from None
    if not records:
        raise ApiError(400, "the CSV body has no header line naming its columns", code="PGRST102")
    header, *lines = records
    for number, record in enumerate(lines, start=2):
        if len(record) != len(header):
            raise ApiError(
                400,
                f"line {number} of the CSV body has {len(record)} fields, its header {len(header)}",
                code="PGRST102",
            )
    return [
        {
            name: None if value == "NULL" else value
            for name, value in zip(header, record, strict=True)
        }
        for record in lines
    ]


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
            raise GrammarError(where + exc.message, exc.hint, exc.code) from None
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
    if not names:
        # Objects without keys ({}, [{}, {}]): rows of defaults, one DEFAULT standing for all.
        return [{relation.table.columns[0].name: DEFAULT} for _ in rows]
    values = []
    for index, row in enumerate(rows):
        converted = {}
        for name in names:
            if name in row:
                converted[name] = coerce_json(relation.table.columns[name], row[name], index)
            else:
                converted[name] = DEFAULT if missing_default else None
        values.append(converted)
    return values


def insert_statement(
    relation: Relation, values: list[dict], resolution: str | None, on_conflict: str | None
) -> sa.Insert:
    """INSERT ... VALUES (...), (...) [ON CONFLICT ...] RETURNING every column.

    A merge also returns INSERTED (true for a new row, false for a merged one).
    """
    table = relation.table
    stmt = pg_insert(table).values(values)
    if resolution:
        keys = conflict_columns(relation, on_conflict)
        if resolution == "ignore-duplicates":
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            # Only key columns sent: set them to themselves, so the rows touched are returned.
            updated = {name: stmt.excluded[name] for name in values[0] if name not in keys} or {
                name: stmt.excluded[name] for name in keys
            }
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updated)
            # xmax is 0 in a row the statement inserted, the locking transaction's in one it updated.
            return stmt.returning(
                *relation.columns, sa.literal_column("xmax = 0", sa.Boolean).label(INSERTED)
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


def assignments(
    relation: Relation, body: dict, names: list[str], *, missing_default: bool = False
) -> dict[str, Any]:
    """The SET of a PATCH: converted values for the named columns (a missing key: NULL or DEFAULT)."""
    return {
        name: coerce_json(relation.table.columns[name], body[name])
        if name in body
        else (DEFAULT if missing_default else None)
        for name in names
    }


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
    """The WHERE of a PATCH or DELETE; refused without a filter or a limit, so no write hits every row.

    limit= (and offset=) change only that many of the matching rows, the first in order=
    (by default the primary key's), picked by primary key.
    """
    if not read.filters and read.limit is None:
        raise ApiError(
            400,
            f"a filter is required to change rows of {relation.qualified_name}",
            code="21000",  # what pg-safeupdate answers for an UPDATE or DELETE without WHERE
            hint="add one, e.g. ?id=eq.1; to change every row, say so: ?id=not.is.null",
        )
    clauses = [condition_clause(relation, condition) for condition in read.filters]
    if read.limit is None and not read.offset:
        return clauses
    if not relation.primary_key:
        raise ApiError(
            400,
            f"limit= on a write needs a primary key, and {relation.qualified_name} has none",
            code="PGRST109",
        )
    key = [relation.table.columns[name] for name in relation.primary_key]
    chosen = (
        sa.select(*key)
        .where(*clauses)
        .order_by(*order_clauses(relation, read))
        .limit(read.limit)
        .offset(read.offset or None)
    )
    return [sa.tuple_(*key).in_(chosen) if len(key) > 1 else key[0].in_(chosen)]


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


def put_key(relation: Relation, read: ReadRequest) -> dict[str, Any]:
    """The primary key a PUT names: one eq filter on each of its columns, nothing else."""
    if read.limit is not None or read.offset:
        raise ApiError(
            400, "limit/offset querystring parameters are not allowed for PUT", code="PGRST114"
        )
    key = relation.primary_key
    filters = [flt for flt in read.filters if isinstance(flt, Filter)]
    named = {flt.column for flt in filters}
    if (
        not key
        or len(filters) != len(read.filters)
        or len(filters) != len(key)
        or named != set(key)
        or any(flt.op != "eq" or flt.negated for flt in filters)
    ):
        raise ApiError(
            405,
            "Filters must include all and only primary key columns with 'eq' operators",
            code="PGRST105",
        )
    return {
        flt.column: coerce_value(relation.table.columns[flt.column], flt.value) for flt in filters
    }


def require_matching_key(relation: Relation, key: dict[str, Any], row: dict[str, Any]) -> None:
    """A PUT's body must hold the primary key values its URL names."""
    for name, value in key.items():
        sent = coerce_json(relation.table.columns[name], row.get(name))
        if sent is None or str(_bound(sent)) != str(_bound(value)):
            raise ApiError(
                400, "Payload values do not match URL in primary key column(s)", code="PGRST115"
            )


def _bound(value: Any) -> Any:
    """The Python value of a converted value (converted request text is a bound parameter)."""
    return value.value if isinstance(value, sa.BindParameter) else value
