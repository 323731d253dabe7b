"""The functions page of a schema: each served function's signature and comment, and a form
that calls a STABLE or IMMUTABLE one through the API by GET."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, render_template, request, url_for

from db.catalog import Catalog
from db.functions import Function

from ..app.responses import page_or_twin
from ..app.urls import rpc_url
from .structure import _served_schema, bp


def describe_function(function: Function, default_schema: bool = True) -> dict[str, Any]:
    """What the page shows of one function, and the JSON twin answers."""
    get = function.read_only and all(p.name for p in function.inputs)
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
        "url": rpc_url(function.name),
        "callable_by_get": get,
        # A browser sends no Accept-Profile: the form calls functions of the default schema.
        "form_url": url_for("structure.call_from_form", schema=function.schema, name=function.name)
        if get and default_schema
        else None,
    }


def schema_functions(catalog: Catalog, schema: str) -> dict[str, Any]:
    """Every served function of the schema, overloads one after the other, by name."""
    return {
        "schema": schema,
        "functions": [
            describe_function(function, schema == catalog.default_schema)
            for (sch, _), overloads in sorted(catalog.functions.items())
            if sch == schema
            for function in overloads
        ],
    }


@bp.get("/schema/<schema>/functions")
def functions_page(schema: str) -> Response:
    """The schema's functions (RPC): signature, comment, and a form for those GET may call."""
    catalog = _served_schema(schema)
    data = schema_functions(catalog, schema)
    return page_or_twin(lambda: data, lambda: render_template("functions.html", data=data))


@bp.get("/schema/<schema>/functions/<name>/call")
def call_from_form(schema: str, name: str) -> Response:
    """The form's GET, without the fields left empty (their defaults apply), sent to the API."""
    _served_schema(schema)
    sent = [(key, value) for key, value in request.args.items(multi=True) if value != ""]
    return redirect(rpc_url(name, sent), code=303)
