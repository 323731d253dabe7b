"""The OpenAPI entries of the served functions: /rpc/<name>, its arguments and its result."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from db.catalog import Catalog
from db.functions import Function, Parameter, sql_type

from .headers import CSV, JSON
from .openapi import column_schema


def function_paths(catalog: Catalog, schema: str, keys: dict[str, str]) -> dict[str, Any]:
    """One path per function name of the schema (its overloads together); keys: row schemas."""
    paths = {}
    for (sch, name), overloads in sorted(catalog.functions.items()):
        if sch == schema:
            paths[f"/rpc/{quote(name, safe='')}"] = function_item(overloads, keys)
    return paths


def function_item(overloads: tuple[Function, ...], keys: dict[str, str]) -> dict[str, Any]:
    """POST for every overload; GET when one is STABLE or IMMUTABLE (GET runs read-only)."""
    first = overloads[0]
    error = {"$ref": "#/components/responses/Error"}
    responses = {
        "200": {
            "description": "The result",
            "content": {
                JSON: {"schema": _one_of([result_schema(f, keys) for f in overloads])},
                CSV: {"schema": {"type": "string"}},
            },
        },
        **(
            {"204": {"description": "Done (the function returns void)"}}
            if any(f.returns_void for f in overloads)
            else {}
        ),
        "300": error,
        "400": error,
        "404": error,
    }
    description = "\n\n".join(
        f"`{f.signature()}` ({f.volatility})" + (f": {f.comment}" if f.comment else "")
        for f in overloads
    )
    operation_id = f"rpc_{first.name}"
    item: dict[str, Any] = {
        "summary": f"function {first.qualified_name}",
        "post": {
            "operationId": operation_id,
            "description": description,
            "requestBody": {
                "required": False,
                "content": {JSON: {"schema": _one_of([arguments_schema(f) for f in overloads])}},
            },
            "parameters": _read_parameters(),
            "responses": responses,
        },
    }
    readable = [f for f in overloads if f.read_only]
    if readable:
        arguments = {p.name: p for f in readable for p in f.inputs if p.name}
        item["get"] = {
            "operationId": f"{operation_id}_get",
            "description": description,
            "parameters": [
                *(_query_argument(param) for param in arguments.values()),
                *_read_parameters(),
            ],
            "responses": responses,
        }
    return item


def arguments_schema(function: Function) -> dict[str, Any]:
    """The JSON object a POST sends: one key per named argument; required: those without default."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: parameter_schema(p) for p in function.inputs if p.name},
    }
    required = sorted(name for name in function.required if name)
    if required:
        schema["required"] = required
    return schema


def parameter_schema(param: Parameter) -> dict[str, Any]:
    """The JSON Schema of one argument, from its type; the type's own name in the description."""
    schema = column_schema(sa.Column(param.name or "arg", sql_type(param.type_name)))
    schema["description"] = ("VARIADIC " if param.variadic else "") + param.type_name
    return schema


def result_schema(function: Function, keys: dict[str, str]) -> dict[str, Any]:
    """Rows of a served relation by reference; other rows, a scalar or nothing described inline."""
    if function.returns_relation is not None and function.returns_relation[1] in keys:
        row: dict[str, Any] = {"$ref": f"#/components/schemas/{keys[function.returns_relation[1]]}"}
    elif function.returns_rows:
        row = {
            "type": "object",
            "properties": {
                name: column_schema(sa.Column(name, sql_type(type_name)))
                for name, type_name in function.columns
            },
        }
    elif function.returns_void:
        return {"type": "null"}
    else:
        row = column_schema(sa.Column(function.name, sql_type(function.return_type)))
    return {"type": "array", "items": row} if function.returns_set else row


def _query_argument(param: Parameter) -> dict[str, Any]:
    """A GET argument; a VARIADIC one may be repeated."""
    schema = parameter_schema(param)
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "schema": schema if param.variadic else {"type": "string"},
        "explode": param.variadic,
        "description": f"argument {param.name} ({param.type_name})",
    }


def _read_parameters() -> list[dict[str, str]]:
    """The read grammar a function's rows take."""
    names = ("select", "order", "limit", "offset", "or", "and", "Range", "Prefer")
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def _one_of(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema, or oneOf the overloads' schemas."""
    return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
