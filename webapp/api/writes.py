"""Writes under /api: POST (insert, upsert), PUT (one row by its key), PATCH and DELETE.

The routes join the API's blueprint (routes.bp). Each write is one statement in the
request's transaction. Anything refused after it ran (a 406 for one object, a 400 past
max-affected, an embed that fails) raises before the commit, and the teardown rolls the
write back. Otherwise the transaction ends as TX_END (and, where it allows, Prefer: tx=) says.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, request

from db.catalog import Relation
from db.session import Session

from ..app.embed_turns import wait_for_embed_turn
from ..app.urls import api_row_url
from ..errors import ApiError
from ..pipeline import mutations
from ..pipeline.embedding import EmbedRows, attach_embeds
from ..pipeline.plan import EmbedPlan, plan_embed
from ..pipeline.query import HIDDEN
from ..pipeline.reads import ReadRequest, SelectItem, parse_read
from ..pipeline.spread import make_room, output_keys, spread_embeds
from ..state import app_state, current_catalog
from .headers import CSV, FORM, OBJECT, Prefer, choose_format, parse_prefer
from .routes import (
    applied_preferences,
    bp,
    content_range,
    render_rows,
    resolve_relation,
)

# The preferences each method reports in Preference-Applied (PostgREST's choice per method).
APPLIED = {
    "POST": ("resolution", "missing", "return", "count", "tx", "handling"),
    "PUT": ("return", "count", "tx", "handling"),
    "PATCH": ("missing", "return", "count", "tx", "handling", "max-affected"),
    "DELETE": ("return", "count", "tx", "handling", "max-affected"),
}


@dataclass(frozen=True)
class Write:
    """One write request, parsed: its relation, preferences, query string and response format."""

    relation: Relation
    prefer: Prefer
    read: ReadRequest  # select= and its embeds shape the representation; filters pick rows
    media_type: str
    applied: tuple[str, ...]  # the preferences Preference-Applied may report
    embeds: tuple[EmbedPlan, ...]  # select='s embeds, each with its relationship resolved


def begin_write(name: str, *commands: str) -> Write:
    """Resolve, check and parse a write before anything is written (bad select=: a 400 now)."""
    relation = resolve_relation(name, "Content-Profile")
    for command in commands:
        mutations.require_writable(relation, command)
    settings = app_state().settings
    media_type = choose_format(request.headers)
    prefer = parse_prefer(request.headers, allow_tx=settings.tx_end.endswith("-allow-override"))
    read = parse_read(request.args, settings.embed_limits)
    for item in read.select or ():
        relation.column(item.column)
    catalog = current_catalog()
    embeds = tuple(plan_embed(catalog, relation, embed) for embed in read.embeds)
    ignored = set()
    if not prefer.strict:  # max-affected is enforced, and reported, with handling=strict only
        ignored.add("max-affected")
    if not relation.primary_key and "on_conflict" not in request.args:
        ignored.add("resolution")  # as PostgREST: no key to resolve conflicts on, so no upsert
    applied = tuple(name for name in APPLIED[request.method] if name not in ignored)
    return Write(relation, prefer, read, media_type, applied, embeds)


@bp.post("/<name>")
def create_rows(name: str):
    """Insert one object or an array of them in one statement; upsert with Prefer: resolution."""
    write = begin_write(name, "INSERT")
    relation, prefer = write.relation, write.prefer
    rows = body_rows()
    names = mutations.payload_columns(relation, rows, request.args.get("columns"))
    on_conflict = request.args.get("on_conflict")
    resolution = prefer.resolution if "resolution" in write.applied else None
    if not rows:
        return respond(write, [], 200 if resolution == "merge-duplicates" else 201)
    values = mutations.insert_rows(relation, rows, names, missing_default=prefer.missing_default)
    stmt = mutations.insert_statement(relation, values, resolution, on_conflict)
    written = execute(write, stmt)
    inserted = [row.pop(mutations.INSERTED, True) for row in written]
    # A merge that inserted nothing (every row was there) is a 200, as PostgREST answers.
    merged_only = resolution == "merge-duplicates" and not any(inserted)
    return respond(write, written, 200 if merged_only else 201)


@bp.put("/<name>")
def put_row(name: str):
    """Insert or replace the one row the URL's primary key names (`?id=eq.1`), as PostgREST."""
    write = begin_write(name, "INSERT", "UPDATE")
    relation, prefer = write.relation, write.prefer
    key = mutations.put_key(relation, write.read)
    rows = body_rows()
    row = rows[0] if rows else {}  # PostgREST puts the first object of an array
    mutations.require_matching_key(relation, key, row)
    names = mutations.payload_columns(relation, [row], request.args.get("columns"))
    values = mutations.insert_rows(relation, [row], names, missing_default=prefer.missing_default)
    stmt = mutations.insert_statement(relation, values, "merge-duplicates", None)
    written = execute(write, stmt)
    inserted = written[0].pop(mutations.INSERTED)
    return respond(write, written, 201 if inserted else 200)


@bp.patch("/<name>")
def update_rows(name: str):
    """Update the rows the filters select (limit= and order= pick the first few) with the body."""
    write = begin_write(name, "UPDATE")
    relation = write.relation
    rows = body_rows()
    if len(rows) > 1:
        raise ApiError(400, "PATCH takes one JSON object", code="PGRST102")
    names = mutations.payload_columns(relation, rows, request.args.get("columns"))
    if not names:  # {}, [] and [{}] change nothing, as in PostgREST
        return respond(write, [], 200)
    values = mutations.assignments(
        relation, rows[0], names, missing_default=write.prefer.missing_default
    )
    stmt = mutations.update_statement(relation, values, write.read)
    return respond(write, execute(write, stmt, limited=True), 200)


@bp.delete("/<name>")
def delete_rows(name: str):
    """Delete the rows the filters select (limit= and order= pick the first few)."""
    write = begin_write(name, "DELETE")
    stmt = mutations.delete_statement(write.relation, write.read)
    return respond(write, execute(write, stmt, limited=True), 200)


def body_rows() -> list[dict]:
    """The rows of a write's body: JSON (also when no Content-Type is sent), CSV, or a form."""
    mimetype = request.mimetype
    if mimetype in ("", "application/json"):
        return mutations.parse_body(request.get_data())
    if mimetype == CSV:
        return mutations.parse_csv_body(request.get_data())
    if mimetype == FORM and request.method in ("POST", "PUT"):
        return [request.form.to_dict()]  # one row; a repeated key keeps its first value
    raise ApiError(
        415,
        f"send the body as application/json or text/csv, not {mimetype}",
        code="PGRST102",
        hint=f"a POST also takes one row as {FORM}",
    )


def execute(write: Write, stmt, limited: bool = False) -> list[dict]:
    """Run the write statement; refuse (before any commit) what the request said it would not take."""
    result = Session.execute(stmt)
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result]
    prefer = write.prefer
    past_max = prefer.max_affected is not None and len(rows) > prefer.max_affected
    if limited and prefer.strict and past_max:
        raise ApiError(
            400,
            "Query result exceeds max-affected preference constraint",
            code="PGRST124",
            details=f"The query affects {len(rows)} rows",
        )
    if write.media_type == OBJECT and len(rows) != 1:
        # Whatever return= says: the teardown rolls the write back.
        raise ApiError(
            406,
            "JSON object requested, multiple (or no) rows returned",
            code="PGRST116",
            details=f"The result contains {len(rows)} rows",
        )
    return rows


def respond(write: Write, rows: list[dict], status: int) -> Response:
    """End the transaction (commit or rollback), then answer as return= and Accept ask.

    status is the answer with a representation; without one, a POST is a 201 (or the
    merge's 200) and the other methods a 204, with no body and no Content-Type.
    """
    prefer = write.prefer
    representation = prefer.returning == "representation"
    if representation:  # embeds are read in the write's transaction, before it ends
        shaped, keys = represent(write, rows)
    end_transaction(prefer)
    headers = write_headers(write, rows)
    if representation:
        response = render_rows(shaped, keys, write.media_type, headers, status=status)
        response.status_code = status
        return response
    located = prefer.returning == "headers-only" and request.method == "POST" and len(rows) == 1
    if located and write.relation.primary_key:
        headers["Location"] = api_row_url(write.relation, rows[0])
    response = Response(status=status if request.method == "POST" else 204, headers=headers)
    del response.headers["Content-Type"]  # no body, so no media type
    return response


def write_headers(write: Write, rows: list[dict]) -> dict[str, str]:
    """Content-Range (as PostgREST sends it per method) and Preference-Applied."""
    headers = {}
    total = len(rows) if write.prefer.count in ("exact", "estimated") else None
    if request.method == "PATCH":
        headers["Content-Range"] = content_range(0, len(rows), total)
    elif request.method != "PUT":
        headers["Content-Range"] = content_range(0, 0, total)  # */* or */<count>
    applied = applied_preferences(write.prefer, write.applied)
    if applied:
        headers["Preference-Applied"] = applied
    return headers


def end_transaction(prefer: Prefer) -> None:
    """Commit, or roll back when TX_END (or Prefer: tx=, where allowed) says rollback."""
    end = prefer.tx or app_state().settings.tx_end.removesuffix("-allow-override")
    if end == "rollback":
        Session.rollback()
    else:
        Session.commit()


def represent(write: Write, rows: list[dict]) -> tuple[list[dict], list[str]]:
    """The written rows as select= asks: its columns (renamed), then its embeds (as a read's)."""
    items = write.read.select
    if items is None:
        items = tuple(SelectItem(column.name) for column in write.relation.columns)
    shaped = [{item.key: row[item.column] for item in items} for row in rows]
    keys = [item.key for item in items]
    if write.embeds:
        # The columns the embeds join on ride along under private labels, as in a read.
        joins = tuple(dict.fromkeys(n for each in write.embeds for n in each.join.parent_columns))
        for out, row in zip(shaped, rows, strict=True):
            out.update({HIDDEN + name: row[name] for name in joins})
        settings = app_state().settings
        budget = EmbedRows(settings.max_embed_rows, settings.max_rows, wait_for_embed_turn)
        make_room(shaped, write.embeds)
        attach_embeds(Session.connection(), shaped, write.embeds, budget)
        spread_embeds(shaped, write.embeds)
        for out in shaped:
            for name in joins:
                del out[HIDDEN + name]
        keys += [key for each in write.embeds for key in output_keys(each)]
    return shaped, keys
