"""Every exception becomes a response here: JSON {code, message, details, hint} or an HTML page."""

from __future__ import annotations

import difflib
import json
import logging
import re

import psycopg
import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_app_context,
    render_template,
    request,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from db.catalog import Catalog, NotInCatalog
from db.engine import first_line
from db.hiding import near_hidden

from .app.responses import page_or_twin
from .encoding import json_response
from .ops.observability import Tracebacks, printable
from .pipeline.api_error import ApiError
from .pipeline.grammar import GrammarError
from .pipeline.matviews import refresh_hint, unpopulated_refresh
from .state import app_state, current_catalog, current_database

log = logging.getLogger("webapp.errors")

RETRY_AFTER_SECONDS = 2
_DATABASE_PREFIX = re.compile(r"^/db/[^/]+(?=/)")  # /db/<name>/api answers JSON as /api does
_JSON_ERRORS = "pgfront.json_errors"  # app.extensions: the blueprints and prefixes of json_errors()

# SQLSTATE (exact, then by two-character class) -> HTTP status: PostgREST's table (its docs'
# "HTTP Status Codes"), except where the README's "Where we knowingly differ" says otherwise.
_STATUS_BY_SQLSTATE = {
    "23503": 409,  # foreign_key_violation
    "23505": 409,  # unique_violation
    "25006": 405,  # read_only_sql_transaction
    "42501": 403,  # insufficient_privilege (401 for an anonymous request: see _anonymous_may_not)
    "42P01": 404,  # undefined_table
    "42P17": 500,  # invalid_object_definition: infinite recursion (a row-level security policy)
    "42883": 404,  # undefined_function
    "53400": 500,  # configuration_limit_exceeded
    "54001": 400,  # statement_too_complex: a value of the request nested too deeply (we differ)
    "57014": 504,  # query_canceled: statement_timeout (we differ: PostgREST answers 500)
    "57P01": 503,  # admin_shutdown
    "57P02": 503,  # crash_shutdown (we differ: the connection is gone, as 08*)
    "57P03": 503,  # cannot_connect_now (we differ: the connection is gone, as 08*)
    "P0001": 400,  # raise_exception
}
_STATUS_BY_CLASS = {
    "08": 503,  # connection exception
    "09": 500,  # triggered action exception
    "0L": 403,  # invalid grantor
    "0P": 403,  # invalid role specification
    "25": 500,  # invalid transaction state
    "28": 403,  # invalid authorization specification
    "2D": 500,  # invalid transaction termination
    "38": 500,  # external routine exception
    "39": 500,  # external routine invocation exception
    "3B": 500,  # savepoint exception
    "40": 500,  # transaction rollback
    "53": 503,  # insufficient resources
    "54": 413,  # program limit exceeded: the request was too big (we differ: PostgREST 500)
    "55": 500,  # object not in prerequisite state
    "57": 500,  # operator intervention
    "58": 500,  # system error
    "F0": 500,  # configuration file error
    "HV": 500,  # foreign data wrapper error
    "P0": 500,  # PL/pgSQL error
    "XX": 500,  # internal error
}
_DEFAULT_STATUS = 400  # as PostgREST: other classes (21, 22, 23, 42, 0A, ...) are the client's

# A constraint error names tables, columns and constraints, and its details hold the row's
# values; about a relation near something HIDDEN it says only which kind of rule was broken.
_WITHOUT_NAMES = {
    "23502": "a value the row needs is missing",
    "23503": "the row references a row that does not exist, or other rows reference it",
    "23505": "a row with the same unique values exists",
    "23514": "a value breaks a check constraint",
    "23P01": "the row conflicts with another row",
}


class RequestTimeout(ApiError):
    """The request's database work ran past REQUEST_TIMEOUT and was cancelled (a 504)."""

    def __init__(self, timeout_ms: int):
        super().__init__(
            504,
            f"the request ran past REQUEST_TIMEOUT={timeout_ms} ms; its database work was cancelled",
            code="57014",
            hint="narrow it: filters, a smaller limit=, fewer embeds",
        )
        self.problem = f"ran past REQUEST_TIMEOUT ({timeout_ms} ms)"  # as a page words it


def past_deadline(exc: BaseException) -> RequestTimeout | None:
    """exc as the deadline's 504 when the request deadline (g.deadline) ended it, else None.

    A statement PostgreSQL cancelled (57014) after the deadline passed was cancelled by the
    deadline's lowered statement_timeout, not by DB_STATEMENT_TIMEOUT.
    """
    if isinstance(exc, RequestTimeout):
        return exc
    deadline = g.get("deadline") if has_app_context() else None
    if (
        deadline is not None
        and deadline.passed
        and isinstance(exc, sa.exc.DBAPIError)
        and getattr(exc.orig, "sqlstate", None) == "57014"
    ):
        return RequestTimeout(deadline.timeout_ms)
    return None


def status_for_sqlstate(sqlstate: str | None, message: str = "") -> int:
    """The HTTP status for a PostgreSQL error code (and, for two codes, its message), as PostgREST."""
    if not sqlstate:
        return 500
    if sqlstate == "21000":  # cardinality_violation: a view's subquery is the server's fault;
        # pg-safeupdate's refusal, or an upsert body repeating a key, the client's (we differ)
        return 500 if message.startswith("more than one row returned by a subquery") else 400
    if sqlstate == "22023" and message.startswith("role") and message.endswith("does not exist"):
        return 401  # a token's role that does not exist
    return _STATUS_BY_SQLSTATE.get(sqlstate) or _STATUS_BY_CLASS.get(sqlstate[:2], _DEFAULT_STATUS)


def from_database_error(exc: sa.exc.DBAPIError) -> ApiError:
    """Translate a driver error into an ApiError, without leaking SQL text."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if exc.connection_invalidated or (
        sqlstate is None and isinstance(exc, sa.exc.OperationalError)
    ):
        return unavailable("the database connection was lost", code=sqlstate or "08006")
    if sqlstate is None and isinstance(exc.orig, psycopg.DataError):
        # The driver refused a value before sending it (a NUL character, an unloadable value).
        return ApiError(400, f"invalid value: {first_line(exc.orig)}", code="22000")
    if sqlstate is None:  # a driver-side failure (e.g. a value it cannot adapt): our bug
        log.error("driver error without SQLSTATE: %s", printable(exc.orig))
        return ApiError(500, "internal server error", code="PGRST000")
    diag = orig.diag
    raised = raised_error(sqlstate, diag)
    if raised is not None:
        return raised
    status = status_for_sqlstate(sqlstate, diag.message_primary or "")
    error = ApiError(
        status,
        diag.message_primary or "database error",
        code=sqlstate,
        details=diag.message_detail,
        hint=diag.message_hint,
    )
    if status == 503:
        error.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return error


def raised_error(sqlstate: str, diag) -> ApiError | None:
    """PostgREST's RAISE conventions: SQLSTATE 'PGRST' (JSON message and detail), 'PTnnn' (status nnn)."""
    if sqlstate == "PGRST":
        return _custom_error(diag.message_primary, diag.message_detail)
    if sqlstate.startswith("PT"):
        digits = sqlstate[2:]
        status = int(digits) if digits.isdigit() and 100 <= int(digits) <= 599 else 500
        return ApiError(
            status,
            diag.message_primary or "",
            code=sqlstate,
            details=diag.message_detail,
            hint=diag.message_hint,
        )
    return None


def _raised_on_purpose(sqlstate: str | None) -> bool:
    """True for RAISE's own codes: P0001 (RAISE EXCEPTION), PGRST and PTnnn."""
    return bool(sqlstate) and (sqlstate in ("P0001", "PGRST") or sqlstate.startswith("PT"))


def _custom_error(message: str | None, detail: str | None) -> ApiError:
    """RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code", "message", ...}', DETAIL = '{"status", "headers"}'."""
    try:
        body, response = json.loads(message or ""), json.loads(detail or "")
        status, headers = response["status"], response.get("headers") or {}
        if not (isinstance(status, int) and 100 <= status <= 599 and isinstance(headers, dict)):
            raise ValueError(detail)
        return ApiError(
            status,
            str(body["message"]),
            code=str(body.get("code") or f"HTTP{status}"),
            details=body.get("details"),
            hint=body.get("hint"),
            headers={str(name): str(value) for name, value in headers.items()},
        )
    except (ValueError, TypeError, KeyError, RecursionError):
        return ApiError(
            500,
            "Could not parse JSON in the RAISE SQLSTATE 'PGRST' error",
            code="PGRST121",
            hint="MESSAGE must be a JSON object with the keys 'code' and 'message' ('details' and "
            "'hint' optional); DETAIL a JSON object with 'status' and 'headers'",
        )


def without_hidden(error: ApiError, exc: sa.exc.DBAPIError, catalog: Catalog) -> None:
    """Drop details and hint, and constraint names, from an error about a relation near HIDDEN."""
    diag = getattr(exc.orig, "diag", None)
    if diag is None or not near_hidden(catalog, diag.schema_name, diag.table_name):
        return
    if _raised_on_purpose(getattr(exc.orig, "sqlstate", None)):
        return  # a function's RAISE: its words are the DBA's, written for the client
    error.details = error.hint = None
    if error.code.startswith("23"):
        error.message = _WITHOUT_NAMES.get(error.code, "the row breaks a constraint")


def not_in_catalog(error: NotInCatalog, catalog: Catalog) -> ApiError:
    """PostgREST's answer to a name the schema cache lacks: 42703 for a column, PGRST205 for a table."""
    if error.relation:  # a column of a known relation: PostgreSQL's code, as PostgREST forwards it
        message = f"column {error.name!r} does not exist in {error.relation}"
        return ApiError(400, message, code="42703")
    schema = error.schema or catalog.default_schema
    served = [relation.name for relation in catalog.in_schema(schema)]
    close = difflib.get_close_matches(error.name, served, n=1, cutoff=0.75)
    return ApiError(
        404,
        f"Could not find the table '{schema}.{error.name}' in the schema cache",
        code="PGRST205",
        hint=f"Perhaps you meant the table '{schema}.{close[0]}'" if close else None,
    )


def unavailable(message: str, *, code: str) -> ApiError:
    """A 503 that tells the client when to try again."""
    return ApiError(
        503,
        message,
        code=code,
        hint="try again in a moment",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _anonymous_may_not(api_error: ApiError) -> None:
    """PostgREST's 401 for an anonymous request a token may help, with a hint saying so."""
    api_error.status = 401
    api_error.headers["WWW-Authenticate"] = "Bearer"
    role = app_state().settings.anon_role
    who = f"the anonymous role {role} (DB_ANON_ROLE)" if role else "the login role"
    api_error.hint = api_error.hint or (
        f"requests without a token run as {who}; send Authorization: Bearer <token> "
        "of a role that may"
    )


def _api_route_error(error: HTTPException) -> ApiError | None:
    """PostgREST's codes for a URL under /api that no route serves, or a method none takes."""
    path = _DATABASE_PREFIX.sub("", request.path)
    if path != "/api" and not path.startswith("/api/"):
        return None
    if error.code == 404:
        return ApiError(404, "Invalid path specified in request URL", code="PGRST125")
    if error.code == 405:
        return ApiError(405, f"Unsupported HTTP method: {request.method}", code="PGRST117")
    return None


def json_errors(blueprint: Blueprint) -> Blueprint:
    """Answer every error of a blueprint's views, and of URLs under its prefix, in JSON, as /api does.

    bp = json_errors(Blueprint("reports", __name__, url_prefix="/reports"))
    """
    blueprint.record(_opt_into_json_errors)  # on each app it is registered with, at its prefix
    return blueprint


def _opt_into_json_errors(state: BlueprintSetupState) -> None:
    """Remember a json_errors() blueprint's full name and URL prefix on the app it joins."""
    names, prefixes = state.app.extensions.setdefault(_JSON_ERRORS, (set(), set()))
    names.add(f"{state.name_prefix}.{state.name}".lstrip("."))
    if state.url_prefix:
        prefixes.add(state.url_prefix.rstrip("/"))


def _json_errors_opted_in() -> bool:
    """The request is for a json_errors() blueprint: its view matched, or its URL prefix."""
    names, prefixes = current_app.extensions.get(_JSON_ERRORS, ((), ()))
    path = request.path
    return any(name in names for name in request.blueprints) or any(
        path == prefix or path.startswith(prefix + "/") for prefix in prefixes
    )


def _always_json() -> bool:
    """JSON under /api, for health checks and json_errors() blueprints, whatever Accept says."""
    if _DATABASE_PREFIX.sub("", request.path).startswith(("/api", "/live", "/ready")):
        return True
    return _json_errors_opted_in()


def render_error(error: ApiError) -> Response:
    """One rendering of an error: JSON, or a page's error as its HTML page or JSON twin."""
    if _always_json():
        response = json_response(error.body(), status=error.status)
    else:  # the pages' one rule for their JSON twins
        response = page_or_twin(
            error.body, lambda: render_template("error.html", error=error), error.status
        )
    response.headers.update(error.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers that turn every exception into a response."""

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return render_error(error)

    @app.errorhandler(NotInCatalog)
    def handle_not_in_catalog(error: NotInCatalog):
        return render_error(not_in_catalog(error, current_catalog()))

    @app.errorhandler(GrammarError)
    def handle_grammar_error(error: GrammarError):
        return render_error(ApiError(400, error.message, code=error.code, hint=error.hint))

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        api_error = _api_route_error(error) or ApiError(
            error.code or 500, error.description or error.name
        )
        response = render_error(api_error)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(sa.exc.DBAPIError)
    def handle_database_error(error: sa.exc.DBAPIError):
        timed_out = past_deadline(error)
        if timed_out is not None:
            return render_error(timed_out)
        api_error = from_database_error(error)
        without_hidden(api_error, error, current_catalog())
        if api_error.code == "42501" and not g.get("jwt_claims"):
            _anonymous_may_not(api_error)
        if api_error.code in ("42P01", "42703"):
            # The catalog said it exists, the database says not: the schema changed under us.
            current_database().reloader.request_reload(f"{api_error.code} from the database")
            api_error.hint = "the schema changed; it is being reloaded, try again in a moment"
        if api_error.code == "54001":  # PostgreSQL's hint (raise max_stack_depth) is for a DBA
            api_error.hint = "a value in the request nests too deeply (JSON, arrays); flatten it"
        refresh = unpopulated_refresh(error, current_catalog())
        if refresh:  # PostgREST's status (500), and a hint naming the statement that fills it
            api_error.hint = refresh_hint(refresh)
        if api_error.status >= 500:
            log.warning("database error %s: %s", api_error.code, printable(api_error.message))
        return render_error(api_error)

    @app.errorhandler(sa.exc.StatementError)
    def handle_statement_error(error: sa.exc.StatementError):
        # SQLAlchemy could not turn a value into a parameter: the value did not fit its column.
        log.info("value refused before reaching the database: %s", printable(error.orig))
        return render_error(ApiError(400, f"invalid value: {first_line(error.orig)}", code="22000"))

    @app.errorhandler(sa.exc.TimeoutError)
    def handle_pool_timeout(error: sa.exc.TimeoutError):
        log.error("no pooled connection became free in time: %s", error)
        metrics = current_app.extensions.get("pgfront.metrics")
        if metrics is not None:
            metrics.pool_timeout()
        return render_error(unavailable("all database connections are busy", code="PGRST003"))

    tracebacks = Tracebacks()

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        where = f"{request.method} {printable(request.path)}"
        log.error("unhandled error on %s: %s", where, tracebacks.describe(error))
        return render_error(ApiError(500, "internal server error", code="PGRST000"))
