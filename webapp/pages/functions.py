"""The functions page of a schema: each served function's signature and comment, and a form
that calls a STABLE or IMMUTABLE one through the API by GET."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response

from db.catalog import Catalog
from db.functions import Function

from ..databases import api_root
from .structure import _answer, _served_schema, bp


def describe_function(function: Function) -> dict[str, Any]:
    """What the page shows of one function, and the JSON twin answers."""
    return {
        "name": function.name,
        "signature": function.signature(),
        "volatility": function.volatility,
        "comment": function.comment,
        "returns_set": function.returns_set,
        "arguments": [
            {
                "name": param.name,
                "type": param.type_name,
                "has_default": param.has_default,
                "variadic": param.variadic,
            }
            for param in function.inputs
        ],
        "url": f"{api_root()}/rpc/{quote(function.name, safe='')}",
        "callable_by_get": function.read_only and all(p.name for p in function.inputs),
    }


def schema_functions(catalog: Catalog, schema: str) -> dict[str, Any]:
    """Every served function of the schema, overloads one after the other, by name."""
    return {
        "schema": schema,
        "functions": [
            describe_function(function)
            for (sch, _), overloads in sorted(catalog.functions.items())
            if sch == schema
            for function in overloads
        ],
    }


@bp.get("/schema/<schema>/functions")
def functions_page(schema: str) -> Response:
    """The schema's functions (RPC): signature, comment, and a form for those GET may call."""
    catalog = _served_schema(schema)
    return _answer(schema_functions(catalog, schema), "functions.html")
