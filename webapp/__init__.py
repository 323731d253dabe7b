"""The Flask application: create_app() builds one app around its databases' engines and catalogs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, appcontext_pushed, g, request

from db.session import Session, enter_scope, leave_scope

from .app.wsgi import Request
from .config import load_settings
from .state import app_state, current_database, open_state


def create_app(
    config: Mapping[str, Any] | None = None,
    blueprints: Iterable[Blueprint] = (),
    *,
    as_owner: bool = False,
) -> Flask:
    """Build the app: settings, engine (once), reflected catalog, blueprints, error handling.

    The team's views (webapp/views/, BLUEPRINTS, and the blueprints given here) are
    registered after pgfront's own; see webapp/app/team_views.py. as_owner: on the embedded
    server, connect as the superuser that owns the schema instead of the login role requests
    are served through (for the operator's own commands).
    """
    from . import databases, errors, recording
    from .api import (
        openapi,
        rpc,  # noqa: F401  (its routes join api.bp)
        writes,  # noqa: F401  (its routes join api.bp)
    )
    from .api import routes as api
    from .app import auth, cli, deadline, security, serving, team_views
    from .ops import admin, health, observability
    from .pages import (
        export,
        functions,  # noqa: F401 - its page joins the structure blueprint
        rows,
        sql_page,
        structure,
    )
    from .pages import routes as pages

    settings = load_settings(config)
    observability.configure_logging(settings.log_level)  # under waitress-serve, say
    serving.check_waitress_serve(settings, sys.argv)
    app = Flask(__name__)
    app.request_class = Request  # a query string of invalid UTF-8 is read, not a 500
    app.config.update(settings.extra)
    auth.check_keys(settings)  # a bad key fails before anything connects
    own_views = team_views.load(settings.blueprints, blueprints)  # and so does a broken import
    state = app.extensions["pgfront"] = open_state(settings, as_owner=as_owner)
    try:
        _scope_sessions_to_app_contexts(app)
        errors.register_error_handlers(app)
        engines = [database.engine for database in state.every_database]
        observability.install(app, engines)
        recording.install(app, engines)
        deadline.install(app, engines)
        cli.install(app)
        security.install(app, settings)
        auth.install(app, settings)
        for blueprint in (
            openapi.bp,
            api.bp,
            pages.bp,
            rows.bp,
            structure.bp,
            export.bp,
            health.bp,
            admin.bp,
            observability.bp,
        ):
            app.register_blueprint(blueprint)
        sql_page.install(app, state)  # /sql, off unless SQL_PAGE=true; its rule checked now
        team_views.register(app, own_views)
        databases.install(app)  # /db/<name>/: the API and pages again, for each named database
    except BaseException:
        state.close()  # no reload thread or pool outlives a failed start
        raise
    return app


def _scope_sessions_to_app_contexts(app: Flask) -> None:
    """Each app context (each request, each CLI command) gets its own Session, removed at teardown."""

    def open_scope(sender: Flask, **extra: Any) -> None:
        # The same context object may be pushed again (re-entered); it keeps its one scope.
        if g.get("_session_scope") is None:
            g._session_scope = enter_scope(**app_state().session_options)

    # weak=False: the signal would otherwise drop this closure once create_app returns.
    appcontext_pushed.connect(open_scope, app, weak=False)

    @app.before_request
    def read_only_for_safe_methods() -> None:
        """The Session binds to the request's database; GET and HEAD run in read-only transactions."""
        if Session.registry.has():
            return
        database = current_database()
        options = database.session_options
        if request.method in ("GET", "HEAD") and options.get("bind") is database.engine:
            Session(bind=database.read_only_engine)
        elif not database.is_primary:  # the scope was opened with the primary's options
            Session(**options)

    @app.teardown_appcontext
    def close_scope(exc: BaseException | None) -> None:
        token = g.pop("_session_scope", None)
        if token is not None:
            leave_scope(token)
