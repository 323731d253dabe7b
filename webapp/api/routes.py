"""The JSON API under /api: rows of reflected tables and views, in PostgREST's protocol."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, request

from db.catalog import Relation
from db.session import Session

from ..app.embed_turns import end_embed_turn, wait_for_embed_turn
from ..app.urls import next_page_url
from ..errors import ApiError
from ..pipeline.counts import count_by_method
from ..pipeline.embedding import EmbedRows
from ..pipeline.fetch import Fetched, fetch
from ..pipeline.plan import Paging, ReadPlan, plan_read
from ..pipeline.reads import parse_read
from ..pipeline.statement import count_for
from ..pipeline.values import csv_text, dumps, strip_nulls
from ..state import app_state, current_catalog, current_database
from .headers import (
    CSV,
    SINGULAR,
    STRIPPED,
    Prefer,
    choose_format,
    parse_prefer,
    parse_range,
)

bp = Blueprint("api", __name__, url_prefix="/api")
# A read that held an embed turn gives it back (and its freed memory) when the request ends.
bp.teardown_app_request(end_embed_turn)


@bp.before_request
def refuse_writes_when_read_only() -> None:
    """With READ_ONLY=true, every write is a 405 before it reaches the database."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and app_state().settings.read_only:
        raise ApiError(
            405, "this API is read-only", code="25006", hint="the server runs with READ_ONLY=true"
        )


@bp.before_request
def set_timezone() -> None:
    """`Prefer: timezone=` applies to the request's transaction (SET LOCAL), as in PostgREST."""
    if not any("timezone=" in value for value in request.headers.getlist("Prefer")):
        return
    zone = request_prefer().timezone
    if zone is not None:  # one of pg_timezone_names; an unknown zone is ignored, as PostgREST does
        Session.execute(_SET_TIMEZONE, {"zone": zone})


_SET_TIMEZONE = sa.text("SELECT set_config('timezone', :zone, true)")


@bp.before_request
def answer_options() -> Response | None:
    """OPTIONS /api/<relation>: an Allow header of what the relation accepts, as PostgREST answers."""
    name = (request.view_args or {}).get("name")
    if request.method != "OPTIONS" or name is None:
        return None
    relation = resolve_relation(name, "Content-Profile")  # PostgREST's profile for OPTIONS
    routed = request.url_rule.map.bind_to_environ(request.environ).allowed_methods()
    return Response(status=200, headers={"Allow": ",".join(allowed_methods(relation, routed))})


def allowed_methods(relation: Relation, routed: list[str]) -> list[str]:
    """PostgREST's Allow: reads always; writes as pg_relation_is_updatable says, PUT with a key."""
    writes = frozenset() if app_state().settings.read_only else relation.writable
    wanted = ["OPTIONS", "GET", "HEAD"]
    wanted += ["POST"] if "INSERT" in writes else []
    wanted += ["PUT"] if {"INSERT", "UPDATE"} <= writes and relation.primary_key else []
    wanted += ["PATCH"] if "UPDATE" in writes else []
    wanted += ["DELETE"] if "DELETE" in writes else []
    return [method for method in wanted if method in routed]


def request_prefer(allow_tx: bool = False) -> Prefer:
    """This request's Prefer header, its timezone= checked against the database's zones."""
    return parse_prefer(request.headers, allow_tx, current_database().timezone_names())


def resolve_relation(name: str, profile_header: str = "Accept-Profile") -> Relation:
    """The relation named in the path, in the schema of the profile header (else the default)."""
    return current_catalog().relation(name, requested_schema(profile_header))


def requested_schema(profile_header: str) -> str:
    """The served schema the profile header names (else the default); 406 for any other."""
    catalog = current_catalog()
    schema = request.headers.get(profile_header)
    if schema is not None and schema not in catalog.schemas:
        raise ApiError(
            406,
            f"schema {schema!r} is not served",
            code="PGRST106",
            hint="served schemas: " + ", ".join(catalog.schemas),
        )
    return schema or catalog.default_schema


@bp.get("/<name>")
def read_rows(name: str):
    """Rows of a table or view, filtered, ordered and paged by the query string and headers."""
    relation = resolve_relation(name)
    media_type = choose_format(request.headers)
    settings = app_state().settings
    read = parse_read(request.args, settings.embed_limits)
    prefer = request_prefer()
    offset, limit = paging(read.offset, read.limit)
    cursor = request.args.get("cursor")
    plan = plan_read(
        current_catalog(), relation, read, Paging(offset, limit, settings.max_rows, cursor)
    )
    embed_rows = EmbedRows(settings.max_embed_rows, settings.max_rows, wait_for_embed_turn)
    found = fetch(Session.connection(), plan, embed_rows)
    total = None
    if prefer.count:
        total = count_by_method(
            Session.connection(), count_for(plan), prefer.count, settings.max_rows
        )
    headers, status = read_headers(plan, found, total, prefer, settings.max_rows)
    return render_rows(found.rows, found.keys, media_type, headers, status=status)


def read_headers(plan: ReadPlan, found: Fetched, total: int | None, prefer, max_rows: int):
    """A read's headers and status: its range and count, the cap if it cut, the next page."""
    if total is not None and plan.offset > total:
        raise ApiError(
            416,
            f"offset {plan.offset} is beyond the {total} rows",
            code="PGRST103",
            headers={"Content-Range": f"*/{total}"},
        )
    headers = {"Content-Range": content_range(plan.offset, len(found.rows), total)}
    if applied_preferences(prefer, READ_PREFERENCES):
        headers["Preference-Applied"] = applied_preferences(prefer, READ_PREFERENCES)
    asked = plan.read.limit
    if found.more and plan.limit == max_rows and (asked is None or asked > max_rows):
        # The hard cap cut this response; say so rather than truncate silently.
        headers["X-Row-Cap"] = str(max_rows)
    if found.more and found.last_cursor:
        headers["X-Next-Cursor"] = found.last_cursor
        headers["Link"] = f'<{next_page_url(found.last_cursor, plan.limit)}>; rel="next"'
    status = 206 if total is not None and len(found.rows) < total else 200
    return headers, status


READ_PREFERENCES = ("count", "tx", "handling", "timezone")  # what PostgREST reports on a read


def applied_preferences(prefer, names: tuple[str, ...]) -> str:
    """The Preference-Applied value: only the preferences this method honours."""
    return ", ".join(item for item in prefer.applied if item.split("=")[0] in names)


def paging(offset: int, limit: int | None) -> tuple[int, int | None]:
    """Offset and limit from the query string, narrowed by a Range header if one is sent."""
    wanted = parse_range(request.headers)
    if wanted is None:
        return offset, limit
    first, size = wanted
    if size is not None and limit is not None:
        size = min(size, limit)
    return offset + first, size if size is not None else limit


def render_rows(rows: list[dict], keys: list[str], media_type: str, headers: dict, status: int):
    """The rows as JSON, as one JSON object, or as CSV; nulls=stripped leaves out null keys."""
    if media_type in STRIPPED:
        rows = strip_nulls(rows)
    if media_type in SINGULAR:
        if len(rows) != 1:
            raise ApiError(
                406,
                "JSON object requested, multiple (or no) rows returned",
                code="PGRST116",
                details=f"The result contains {len(rows)} rows",
            )
        return Response(dumps(rows[0]), status=200, headers=headers, content_type=media_type)
    if media_type == CSV:
        return Response(
            csv_text(
                keys,
                ([row[key] for key in keys] for row in rows),
                safe=app_state().settings.csv_safe_cells,
            ),
            status=status,
            headers=headers,
            mimetype=CSV,
        )
    return Response(dumps(rows), status=status, headers=headers, content_type=media_type)


def content_range(offset: int, count: int, total: int | None = None) -> str:
    """The Content-Range value for count rows starting at offset."""
    size = "*" if total is None else str(total)
    if count == 0:
        return f"*/{size}"
    return f"{offset}-{offset + count - 1}/{size}"
