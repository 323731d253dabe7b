"""The OpenAPI 3.1 document of the API, generated from the catalog (one per served schema)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, request

from db.catalog import Catalog, Relation
from db.relationships import relationships

from ..databases import api_root
from ..encoding import json_response
from ..errors import ApiError
from ..pipeline.coercion import python_type
from ..state import current_catalog, current_database
from .headers import ARRAY_STRIPPED, COUNT_METHODS, CSV, FORM, JSON, OBJECT, OBJECT_STRIPPED

bp = Blueprint("openapi", __name__, url_prefix="/api")

_FORMATS: dict[type, dict[str, str]] = {
    bool: {"type": "boolean"},
    float: {"type": "number", "format": "double"},
    Decimal: {"type": "number"},
    str: {"type": "string"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    dt.date: {"type": "string", "format": "date"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.time: {"type": "string", "format": "time"},
    dt.timedelta: {"type": "string", "format": "duration"},
    bytes: {"type": "string", "contentEncoding": "base64"},
}
_ERROR = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "SQLSTATE, or PGRSTnnn for API errors"},
        "message": {"type": "string"},
        "details": {"type": ["string", "null"]},
        "hint": {"type": ["string", "null"]},
    },
    "required": ["code", "message", "details", "hint"],
}


@bp.get("/")
@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document of the schema Accept-Profile names (the default schema otherwise)."""
    catalog = current_catalog()
    schema = request.headers.get("Accept-Profile", catalog.default_schema)
    if schema not in catalog.schemas:
        raise ApiError(406, f"schema {schema!r} is not served", code="PGRST106")
    name = None if current_database().is_primary else current_database().name
    return json_response(build_document(catalog, schema, api_root(), name))


def build_document(
    catalog: Catalog, schema: str, server: str = "/api", database: str | None = None
) -> dict[str, Any]:
    """The whole document for one schema, served at `server` (of a named database, if given)."""
    from .openapi_rpc import function_paths  # it builds on this module's column schemas

    relations = catalog.in_schema(schema)
    keys = component_keys(relation.name for relation in relations)
    where = f"database {database}, schema {schema}" if database else f"schema {schema}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"pgfront API: {where}",
            "version": "1",
            "description": "Tables, views and functions (/rpc/...) of the database, in "
            "PostgREST's grammar. "
            f"Select this schema with the Accept-Profile / Content-Profile header {schema!r}.",
        },
        "servers": [{"url": server}],
        "paths": {
            **{f"/{quote(rel.name, safe='')}": path_item(rel, keys[rel.name]) for rel in relations},
            **function_paths(catalog, schema, keys),
        },
        "components": {
            "schemas": {
                **{keys[rel.name]: row_schema(catalog, rel) for rel in relations},
                "Error": _ERROR,
            },
            "parameters": _shared_parameters(),
            "responses": {
                "Error": {
                    "description": "An error in PostgREST's shape",
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
    }


def column_schema(column: sa.Column, references: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON Schema of one column's values; references: the served columns its keys point at."""
    kind = python_type(column)
    if isinstance(column.type, sa.JSON):
        schema: dict[str, Any] = {}
    elif kind is int:
        big = isinstance(column.type, sa.BigInteger)
        schema = {"type": "integer", "format": "int64" if big else "int32"}
    elif kind is list:
        schema = {"type": "array", "items": column_schema(sa.Column("item", column.type.item_type))}
    else:
        schema = dict(_FORMATS.get(kind, {"type": "string"}))
        enums = getattr(column.type, "enums", None)
        if enums:
            schema["enum"] = list(enums)
    if column.nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    notes = [column.comment] if column.comment else []
    if column.primary_key:
        notes.append("Primary key.")
    notes += [f"Foreign key to {target}." for target in references]
    if notes:
        schema["description"] = " ".join(notes)
    return schema


def row_schema(catalog: Catalog, relation: Relation) -> dict[str, Any]:
    """The JSON Schema of one row; required lists what an INSERT must give."""
    columns = relation.columns
    references: dict[str, list[str]] = {}
    for rel in relationships(catalog).foreign_keys(relation):  # none into hidden things
        for local, remote in zip(rel.source_columns, rel.target_columns, strict=True):
            references.setdefault(local, []).append(f"{rel.target[1]}.{remote}")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            col.name: column_schema(col, references.get(col.name, ())) for col in columns
        },
    }
    required = [
        col.name
        for col in columns
        if not col.nullable
        and col.server_default is None
        and col.identity is None
        and not col.computed
    ]
    if required and "INSERT" in relation.writable:
        schema["required"] = required
    if relation.comment:
        schema["description"] = relation.comment
    return schema


def component_keys(names: Iterable[str]) -> dict[str, str]:
    """Each relation's key under components/schemas: OpenAPI allows [a-zA-Z0-9._-] only, unique."""
    keys: dict[str, str] = {}
    taken = {"Error"}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        keys[name] = key
    return keys


def path_item(relation: Relation, key: str) -> dict[str, Any]:
    """The operations on one table or view; key names its row schema and operations."""
    ref = {"$ref": f"#/components/schemas/{key}"}
    rows = {"type": "array", "items": ref}
    filters = [
        {
            "name": col.name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": (
                f"filter on {col.name}: op.value, e.g. eq.1, in.(1,2), is.null, eq(any).{{1,2}},"
                " cs.{a,b}, fts(english).word; also on a JSON path: col->key->>key=eq.v"
            ),
        }
        for col in relation.columns
    ]
    error = {"$ref": "#/components/responses/Error"}
    item: dict[str, Any] = {
        "summary": f"{relation.kind} {relation.qualified_name}",
        "get": {
            "operationId": f"read_{key}",
            "description": relation.comment or f"Rows of {relation.qualified_name}",
            "parameters": [
                *(
                    {"$ref": f"#/components/parameters/{name}"}
                    for name in (
                        "select",
                        "cursor",
                        "order",
                        "limit",
                        "offset",
                        "or",
                        "and",
                        "Range",
                        "Prefer",
                    )
                ),
                *filters,
            ],
            "responses": {
                "200": {
                    "description": "The rows",
                    "content": {
                        JSON: {"schema": rows},
                        OBJECT: {"schema": ref},
                        CSV: {"schema": {"type": "string"}},
                        ARRAY_STRIPPED: {"schema": rows},  # keys whose value is null left out
                        OBJECT_STRIPPED: {"schema": ref},
                    },
                },
                "206": {
                    "description": "Part of the rows (a count was asked for)",
                    "content": {JSON: {"schema": rows}},
                },
                "400": error,
                "404": error,
                "406": error,
                "416": error,
            },
        },
    }
    csv_body = {"schema": {"type": "string"}}  # a header line of column names, then rows
    body = {
        "required": True,
        "content": {JSON: {"schema": {"oneOf": [ref, rows]}}, CSV: csv_body, FORM: {"schema": ref}},
    }
    shaping = [{"$ref": f"#/components/parameters/{name}"} for name in ("Prefer", "select")]
    limiting = [{"$ref": f"#/components/parameters/{name}"} for name in ("order", "limit")]
    written = {
        "200": {
            "description": "The rows written (Prefer: return=representation)",
            "content": {JSON: {"schema": rows}},
        }
    }
    item["options"] = {
        "operationId": f"options_{key}",
        "parameters": [],
        "responses": {
            "200": {
                "description": "The methods it accepts, as PostgREST lists them",
                "headers": {"Allow": {"schema": {"type": "string"}}},
            },
            "404": error,
        },
    }
    if "INSERT" in relation.writable:
        item["post"] = {
            "operationId": f"create_{key}",
            "requestBody": body,
            "parameters": [
                *shaping,
                {"$ref": "#/components/parameters/columns"},
                {"$ref": "#/components/parameters/on_conflict"},
            ],
            "responses": {
                "201": {"description": "Created", "content": {JSON: {"schema": rows}}},
                "200": {
                    "description": "Merged into existing rows only (resolution=merge-duplicates)",
                    "content": {JSON: {"schema": rows}},
                },
                "400": error,
                "406": error,
                "409": error,
            },
        }
    if {"INSERT", "UPDATE"} <= set(relation.writable) and relation.primary_key:
        item["put"] = {
            "operationId": f"put_{key}",
            "description": "Insert or replace the one row named by eq filters on its whole"
            " primary key (the body holds the same key values)",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref}}},
            "parameters": [*shaping, *filters],
            "responses": {
                **written,
                "201": {"description": "Inserted", "content": {JSON: {"schema": rows}}},
                "204": {"description": "Written"},
                "400": error,
                "405": error,
            },
        }
    if "UPDATE" in relation.writable:
        item["patch"] = {
            "operationId": f"update_{key}",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref}}},
            "parameters": [
                *shaping,
                {"$ref": "#/components/parameters/columns"},
                *limiting,
                *filters,
            ],
            "responses": {
                **written,
                "204": {"description": "Updated"},
                "400": error,
                "406": error,
                "409": error,
            },
        }
    if "DELETE" in relation.writable:
        item["delete"] = {
            "operationId": f"delete_{key}",
            "parameters": [*shaping, *limiting, *filters],
            "responses": {
                **written,
                "204": {"description": "Deleted"},
                "400": error,
                "406": error,
                "409": error,
            },
        }
    return item


def _shared_parameters() -> dict[str, Any]:
    """The query and header parameters every relation shares."""

    def query(name: str, description: str, schema: dict | None = None) -> dict:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema or {"type": "string"},
            "description": description,
        }

    return {
        "select": query(
            "select",
            "columns to return, alias:column renames, col->key->>key JSON paths, ::type casts,"
            " count() and col.sum() aggregates (with AGGREGATES=true), and embeds: rel(cols),"
            " alias:rel!hint(...), rel!inner(...) (only parents that have one), rel() (filter"
            " only), ...rel(cols) (spread into the row)",
        ),
        "order": query(
            "order",
            "col.asc|desc.nullsfirst|nullslast (or col->key), comma-separated; embed(col) for a"
            " to-one embed",
        ),
        "limit": query("limit", "at most this many rows", {"type": "integer", "minimum": 0}),
        "offset": query("offset", "skip this many rows", {"type": "integer", "minimum": 0}),
        "or": query("or", "logic tree: (a.eq.1,and(b.gt.2,c.is.null))"),
        "and": query("and", "logic tree: (a.eq.1,b.eq.2)"),
        "columns": query("columns", "the body keys to insert, comma-separated"),
        "cursor": query("cursor", "continue after the page that gave this X-Next-Cursor"),
        "on_conflict": query("on_conflict", "unique columns for an upsert (default: primary key)"),
        "Range": {
            "name": "Range",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": "^\\d+-\\d*$"},
            "description": "rows first-last, e.g. 0-24",
        },
        "Prefer": {
            "name": "Prefer",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "count="
            + "|".join(COUNT_METHODS)
            + ", return=representation|minimal|headers-only,"
            " resolution=merge-duplicates|ignore-duplicates, missing=default|null,"
            " handling=strict|lenient, max-affected=N (with handling=strict),"
            " tx=commit|rollback (where TX_END allows it), timezone=<a name of pg_timezone_names>",
        },
    }
