"""The SQL page: a DBA's own read-only query at /sql?q=..., in the grid, with CSV and JSON downloads.

Off unless SQL_PAGE=true. Only the admin token (the query runs as the page's login) or a
verified JWT whose role is in SQL_PAGE_ROLES (it runs as that role) may use it. Every
query gets a connection of its own (no pool), logged in as SQL_PAGE_USER (or the app's
login), in a READ ONLY transaction, under PAGE_STATEMENT_TIMEOUT; the connection is
closed afterwards, so nothing a query sets (a role, a setting, a prepared statement, a
lock) outlives it. Before the query, sql_guard checks that the login can become no role
able to read anything HIDDEN (at startup too, which refuses to start otherwise).
The statement goes over the extended protocol, which runs exactly one statement, and
its rows stream until the cap: a huge result is never held whole.
"""

from __future__ import annotations

import base64
import logging
from contextlib import closing
from dataclasses import dataclass, field, replace
from decimal import Decimal

import psycopg
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, render_template, request, url_for
from psycopg import pq
from sqlalchemy import orm
from sqlalchemy.engine import URL

from db.engine import check_reachable, first_line, make_engine

from ..app.auth import identify
from ..app.responses import attachment, page_or_twin
from ..app.urls import with_query
from ..config import ConfigError, Settings
from ..errors import ApiError, from_database_error
from ..ops.admin import is_admin_token
from ..pipeline.values import csv_text, dumps
from ..state import AppState, app_state, current_catalog, engine_options
from .sql_guard import find_breach, unreachable_roles

log = logging.getLogger("webapp.sql_page")  # its name before the move to pages/

bp = Blueprint("sql_page", __name__)

_ENGINE = "pgfront.sql_page"  # the key of the page's engine in app.extensions
_EXPLAIN = {"plan": "EXPLAIN ", "analyze": "EXPLAIN (ANALYZE) "}
_SET_TIMEOUT = sa.text("SELECT set_config('statement_timeout', :ms, true)")
# Where a statement that ran without rows leaves the connection (COMMIT leaves it idle).
_DONE = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.IDLE)


def install(app: Flask, state: AppState) -> None:
    """Register the page; when SQL_PAGE is on, open its engine and check its rule (ConfigError)."""
    app.register_blueprint(bp)
    settings = state.settings
    if not settings.sql_page:
        return
    if settings.admin_token is None and not (
        settings.sql_page_roles and (settings.jwt_secret or settings.jwt_public_key)
    ):
        raise ConfigError(
            "SQL_PAGE=true, but no one may use it: set ADMIN_TOKEN, or SQL_PAGE_ROLES and a JWT key"
        )
    options = replace(
        engine_options(settings), pooled=False, application_name=f"{settings.application_name}-sql"
    )
    engine = make_engine(login_url(state.primary.engine.url, settings), options)
    check_reachable(engine)
    with engine.connect() as connection:
        breach = find_breach(connection, state.primary.catalog.hiding)
        missing = unreachable_roles(connection, settings.sql_page_roles)
    if breach is not None:
        raise ConfigError(
            f"SQL_PAGE=true, but {breach}: give the page a login (SQL_PAGE_USER) that can "
            "become only roles without that (README: The SQL page)"
        )
    if missing:
        raise ConfigError(
            f"SQL_PAGE_ROLES names {', '.join(missing)}, which the SQL page's login cannot become"
        )
    app.extensions[_ENGINE] = engine.execution_options(postgresql_readonly=True)


def login_url(url: URL, settings: Settings) -> URL:
    """The primary database's URL, logged in as SQL_PAGE_USER when set."""
    if settings.sql_page_user is None:
        return url
    return url.set(username=settings.sql_page_user, password=settings.sql_page_password)


# Browsers cannot send a bearer token, but they ask for Basic credentials themselves.
CHALLENGE = 'Bearer, Basic realm="pgfront SQL page", charset="UTF-8"'


@bp.before_request
def authorize() -> None:
    """404 when off; else the admin token (runs as the page's login) or an allowed JWT role."""
    settings = app_state().settings
    if not settings.sql_page:
        raise ApiError(404, "the SQL page is off", hint="SQL_PAGE=true turns it on (README)")
    header = bearer_header(request.headers.get("Authorization"))
    if not header:
        raise ApiError(
            401,
            "the SQL page needs a bearer token",
            code="PGRST301",
            headers={"WWW-Authenticate": CHALLENGE},
            hint="a browser asks for it: any user name, the token as the password",
        )
    if is_admin_token(header, settings.admin_token):
        g.db_role, g.jwt_claims = None, None  # no SET ROLE: the page's own login
        return
    role, claims = identify(header, settings)  # 401 for a bad token
    if not claims or claims.get(settings.jwt_role_claim) not in settings.sql_page_roles:
        raise ApiError(403, "this token's role may not use the SQL page", code="42501")
    g.db_role, g.jwt_claims = role, claims


def bearer_header(authorization: str | None) -> str | None:
    """The Authorization header as `Bearer <token>`; Basic credentials carry the token as password.

    A browser sends Basic credentials with every request to the page, also one another site
    starts: those (Fetch Metadata says cross-site or same-site) are refused, so a link or an
    image elsewhere cannot make a signed-in browser run a query.
    """
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return authorization
    if request.headers.get("Sec-Fetch-Site", "none") not in ("same-origin", "none"):
        raise ApiError(
            403,
            "the SQL page does not answer requests another site starts",
            code="42501",
            hint="open the link from the address bar or a bookmark",
        )
    try:
        _, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        password = ""
    return f"Bearer {password}"


@bp.after_request
def not_kept(response: Response) -> Response:
    """Query results stay out of browser and proxy caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass
class Answer:
    """What one statement gave: its columns and at most the cap of its rows."""

    columns: list[str]
    rows: list[tuple] = field(default_factory=list)
    cut: bool = False  # it had more rows than the cap
    no_rows: bool = False  # a statement that returns none (SET, LISTEN, PREPARE)


def run(statement: str, cap: int) -> Answer:
    """Run one statement on a new connection: READ ONLY, as the request's role, under the page timeout."""
    settings = app_state().settings
    with orm.Session(bind=current_app.extensions[_ENGINE]) as session:
        connection = session.connection()  # BEGIN READ ONLY; auth's hook sets the role
        try:
            breach = find_breach(connection, current_catalog().hiding)
            if breach is not None:
                log.error("SQL page refused a query: %s", breach)
                raise ApiError(
                    403,
                    "the SQL page refuses to run queries: a role it can act as could reach "
                    "hidden data or the server's files",
                    code="42501",
                    hint="the server log says which role and what",
                )
            connection.execute(_SET_TIMEOUT, {"ms": str(settings.page_timeout_ms)})
            return fetch(connection.connection.driver_connection, statement, cap)
        finally:
            connection.invalidate()  # closed, never pooled: nothing the statement set outlives it


def fetch(connection: psycopg.Connection, statement: str, cap: int) -> Answer:
    """Stream the statement's rows, stopping after cap (the server cancels the rest)."""
    cursor = connection.cursor()
    rows: list[tuple] = []
    try:
        # The extended protocol: one statement, never two. Closing the stream early cancels
        # the statement on the server.
        with closing(cursor.stream(statement)) as stream:
            for row in stream:
                rows.append(row)
                if len(rows) > cap:
                    break
    except psycopg.ProgrammingError as exc:
        if exc.sqlstate is None and connection.info.transaction_status in _DONE:
            return Answer([], no_rows=True)  # it ran and has no rows to give (SET, COMMIT)
        raise _as_api_error(exc) from None
    except psycopg.Error as exc:
        raise _as_api_error(exc) from None
    if not rows:
        return Answer(_described_columns(connection, statement))
    columns = [column.name for column in cursor.description or ()]
    return Answer(columns, rows[:cap], cut=len(rows) > cap)


def _as_api_error(exc: psycopg.Error) -> ApiError:
    """PostgreSQL's error as the API reports it (its SQLSTATE, message, detail and hint)."""
    if exc.sqlstate is None and not isinstance(exc, psycopg.DataError | psycopg.OperationalError):
        return ApiError(400, f"the statement could not be run: {first_line(exc)}", code="PGRST100")
    error = from_database_error(sa.exc.DBAPIError.instance(None, None, exc, psycopg.Error))
    if error.status == 500:  # the statement's own failure (25001, 2D000, XX000): never a 500 page
        error.status = 400
    return error


def _described_columns(connection: psycopg.Connection, statement: str) -> list[str]:
    """The columns of a statement that returned no rows: described by the server, not run again."""
    pgconn = connection.pgconn
    if pgconn.prepare(b"", statement.encode()).status != pq.ExecStatus.COMMAND_OK:
        return []
    described = pgconn.describe_prepared(b"")
    return [described.fname(i).decode() for i in range(described.nfields)]


def statement_of(args) -> str:
    """The statement to run: q=, behind EXPLAIN or EXPLAIN (ANALYZE) when explain= asks for it."""
    explain = args.get("explain") or None
    if explain is not None and explain not in _EXPLAIN:
        raise ApiError(400, "explain= must be plan or analyze", code="PGRST100")
    query = args.get("q", "")
    if "\x00" in query:  # libpq would send the text up to it and silently drop the rest
        raise ApiError(400, "q= holds a NUL character, which a statement cannot", code="PGRST100")
    return _EXPLAIN.get(explain, "") + query


@bp.get("/sql")
def sql_page():
    """The form, and the statement's rows (or plan, or PostgreSQL's error) in the grid."""
    settings = app_state().settings
    answer, error = None, None
    if request.args.get("q", "").strip():
        try:
            answer = run(statement_of(request.args), settings.page_max_size)
        except ApiError as exc:
            error = exc
    status = error.status if error else 200
    return page_or_twin(
        lambda: _twin(answer, error, settings.page_max_size),
        lambda: render_template("sql.html", **_context(answer, error, settings)),
        status,
    )


@bp.get("/sql.<any(csv, json):fmt>")
def download(fmt: str) -> Response:
    """The statement's rows as CSV or a JSON array of objects, at most MAX_ROWS (X-Row-Cap when cut)."""
    if not request.args.get("q", "").strip():
        raise ApiError(400, "q= must hold the statement to run", code="PGRST100")
    cap = app_state().settings.max_rows
    answer = run(statement_of(request.args), cap)
    if fmt == "csv":
        csv = csv_text(answer.columns, answer.rows, safe=True)  # no formulas, as page exports
        response = Response(csv, mimetype="text/csv")
    else:
        keys = unique_names(answer.columns)
        objects = [dict(zip(keys, row, strict=True)) for row in answer.rows]
        response = Response(dumps(objects), mimetype="application/json")
    response.headers["Content-Disposition"] = attachment(f"query.{fmt}")
    if answer.cut:
        response.headers["X-Row-Cap"] = str(cap)
    return response


def unique_names(columns: list[str]) -> list[str]:
    """Column names made unique for JSON keys: a repeated name gets _2, _3, ..."""
    taken: set[str] = set()
    names = []
    for name in columns:
        candidate, number = name, 1
        while candidate in taken:
            number += 1
            candidate = f"{name}_{number}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _twin(answer: Answer | None, error: ApiError | None, cap: int) -> dict:
    """The page's JSON twin: the same columns, rows and error."""
    return {
        "query": request.args.get("q", ""),
        "explain": request.args.get("explain") or None,
        "columns": answer.columns if answer else [],
        "rows": [list(row) for row in answer.rows] if answer else [],
        "row_cap": cap,
        "cut": bool(answer and answer.cut),
        "no_rows": bool(answer and answer.no_rows),
        "error": error.body() if error else None,
    }


def _context(answer: Answer | None, error: ApiError | None, settings: Settings) -> dict:
    """What sql.html shows: the form, the grid, the download links and what the limits did."""
    args = {key: request.args[key] for key in ("q", "explain") if request.args.get(key)}
    login = current_app.extensions[_ENGINE].url.username
    return {
        "query": request.args.get("q", ""),
        "answer": answer,
        "error": error,
        "runs_as": g.get("db_role") or login or "the page's login",
        "settings": settings,
        "plan": bool(request.args.get("explain")),
        "column_classes": _column_classes(answer) if answer else [],
        "csv_url": with_query(url_for("sql_page.download", fmt="csv"), args.items()),
        "json_url": with_query(url_for("sql_page.download", fmt="json"), args.items()),
    }


def _column_classes(answer: Answer) -> list[str]:
    """CSS class per column: numbers right-aligned, as on table pages."""
    return [_column_class([row[i] for row in answer.rows]) for i in range(len(answer.columns))]


def _column_class(values: list) -> str:
    """ "num" when every value present is a number."""
    present = [value for value in values if value is not None]
    numeric = all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in present)
    return "num" if present and numeric else ""
