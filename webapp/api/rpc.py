"""Functions as RPC: /api/rpc/<name>, PostgREST's way of calling the schema's SQL functions.

POST sends the arguments as a JSON object (or a form); GET sends them in the query string
and runs, as every GET does, in a read-only transaction, so a VOLATILE function that
writes is refused there by PostgreSQL (25006, a 405) as PostgREST refuses it. A STABLE or
IMMUTABLE function called by POST runs read-only too. Rows a function returns take the
read grammar of a table: select, filters, order, limit and offset, Range, counts, embeds.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from werkzeug.datastructures import MultiDict

from db.functions import Function
from db.session import Session

from ..app.embed_turns import wait_for_embed_turn
from ..errors import ApiError
from ..pipeline import mutations, rpc
from ..pipeline.counts import count_by_method
from ..pipeline.embedding import EmbedRows
from ..pipeline.fetch import Fetched, fetch
from ..pipeline.plan import Paging, ReadPlan, plan_read
from ..pipeline.reads import parse_read
from ..pipeline.statement import count_for
from ..pipeline.values import dumps
from ..state import app_state, current_catalog
from .headers import CSV, FORM, JSON, OBJECT, choose_format, parse_prefer
from .routes import bp, paging, read_headers, render_rows, requested_schema


@bp.route("/rpc/<name>", methods=["GET", "POST"])
def call_function(name: str):
    """Call a served function with named arguments; its result as PostgREST shapes it."""
    post = request.method == "POST"
    catalog = current_catalog()
    schema = requested_schema("Content-Profile" if post else "Accept-Profile")
    media_type = choose_format(request.headers)
    prefer = parse_prefer(request.headers)
    if "cursor" in request.args:
        raise ApiError(400, "cursor= pages tables, not the rows of a function", code="PGRST100")
    if post:
        arguments, read_args = body_arguments(), request.args
    else:
        sent, rest = rpc.split_query(request.args)
        arguments, read_args = sent, MultiDict(rest)
    function, whole = rpc.choose(catalog, schema, name, frozenset(arguments), prefer.single_object)
    if not post or request.mimetype == FORM:
        arguments = rpc.query_arguments(function, arguments)
    whole_body = whole_body_of(arguments, post) if whole else None
    if not post or function.read_only:
        # Whichever engine the Session is bound to: GET never writes, nor does a STABLE call.
        Session.execute(sa.text("SET TRANSACTION READ ONLY"))
    relation = rpc.function_result(catalog, function, arguments, whole_body)
    if function.returns_void:
        return call_void(relation, post)
    settings = app_state().settings
    read = parse_read(read_args, settings.embed_limits)
    offset, limit = paging(read.offset, read.limit) if not post else (read.offset, read.limit)
    plan = plan_read(catalog, relation, read, Paging(offset, limit, settings.max_rows))
    embed_rows = EmbedRows(settings.max_embed_rows, settings.max_rows, wait_for_embed_turn)
    found = fetch(Session.connection(), plan, embed_rows)
    total = result_total(function, plan, prefer.count)
    headers, status = read_headers(plan, found, total, prefer, settings.max_rows)
    finish(post)
    return render_result(function, found, headers, status, media_type)


def call_void(relation: rpc.FunctionResult, post: bool) -> Response:
    """Run a function that returns nothing: 204, without a body or its type (as PostgREST)."""
    Session.connection().execute(sa.select(sa.literal(1)).select_from(relation.table))
    finish(post)
    response = Response(status=204)
    response.headers.remove("Content-Type")
    return response


def body_arguments() -> dict[str, Any]:
    """A POST's arguments: a JSON object (the first of an array, as PostgREST) or a form."""
    if request.mimetype == FORM:
        return dict(request.form.lists())
    raw = request.get_data()
    if request.mimetype not in ("application/json", "") and raw:
        raise ApiError(
            415,
            f"send the arguments as application/json or {FORM}, not {request.mimetype}",
            code="PGRST102",
        )
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON", code="PGRST102") from None
    if isinstance(data, dict) or (isinstance(data, list) and data and isinstance(data[0], dict)):
        # The writes' reading of a body: exact numbers, and a lone surrogate refused (400).
        return mutations.parse_body(raw)[0]
    return {}  # other JSON: only a function of one json argument takes it (whole)


def whole_body_of(arguments: dict[str, Any], post: bool) -> str:
    """The JSON a function of one json argument receives: the body, or the query's arguments."""
    if post and request.mimetype != FORM:
        return rpc.parse_json_document(request.get_data())
    return dumps(arguments).decode()


def result_total(function: Function, plan: ReadPlan, method: str | None) -> int | None:
    """The total Prefer: count= asks for: 1 for a single value or row.

    Counting runs the function again, so a VOLATILE one (which may write) is never counted.
    """
    if method is None or function.volatility == "volatile":
        return None
    if not function.returns_set:
        return 1
    return count_by_method(
        Session.connection(), count_for(plan), method, app_state().settings.max_rows
    )


def finish(post: bool) -> None:
    """A POST's work is committed (a GET's transaction is read-only and simply ends)."""
    if post:
        Session.commit()


def render_result(
    function: Function, found: Fetched, headers: dict, status: int, media_type: str
) -> Response:
    """Rows as a list; a single row as an object; a scalar as itself; a set of scalars as a list."""
    rows, keys = found.rows, found.keys
    if not function.returns_rows and media_type != CSV:
        values = [row[function.name] for row in rows]
        body = values if function.returns_set else (values[0] if values else None)
        return Response(dumps(body), status=status, headers=headers, mimetype=JSON)
    if media_type == JSON and not function.returns_set:
        # One row (a composite, OUT parameters): PostgREST's plain JSON object.
        response = render_rows(rows, keys, OBJECT, headers, status)
        response.mimetype = JSON
        return response
    return render_rows(rows, keys, media_type, headers, status)


@bp.route("/rpc/<name>", methods=["PUT", "PATCH", "DELETE"])
def refuse_method(name: str):
    """Functions are called by GET or POST only (PGRST101, as PostgREST)."""
    raise ApiError(405, f"Cannot use the {request.method} method on RPC", code="PGRST101")
