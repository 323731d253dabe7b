"""Names the dead-code check (tests/test_layout.py) must not report: used where vulture cannot see.

Vulture matches by name: an attribute read here counts as a use everywhere. Flask's
decorated functions (`@app.*`, `@bp.*`: views, hooks, error handlers, CLI commands) are
left out by the check's --ignore-decorators and need no line here. Add a name only with
the reason it is alive.
"""
# ruff: noqa: B018

_ = object

# Public API of the view helpers (README: Your own views), for the team's code.
_.json_errors  # webapp/errors.py
_.first_or_404, _.one_or_404  # webapp/lookups.py
_.prev_url, _.iter_pages  # webapp/paging.py Pagination, as in Flask-SQLAlchemy
_.get_recorded_queries  # webapp/recording.py

# Read by the Jinja templates (webapp/templates/).
_.row_links, _.cells, _.first_url, _.first_number  # table.html: the grid
_.more_than  # table.html: a capped count
_.is_self  # diagram.svg: a self-referencing arrow

# Read by Flask, waitress, logging or SQLAlchemy, which own these attributes.
_.request_class  # Flask: the app's request class
_._session_scope, _.embed_turn, _.db_role, _.jwt_claims, _.database_name, _.db_seconds  # on g
_.accepting, _.will_close  # waitress's server and channel
_.exc_text, _.msg  # logging.LogRecord
_.cache_ok, _.get_col_spec  # a SQLAlchemy UserDefinedType
_.inherit_cache  # a SQLAlchemy ColumnElement of our own (webapp/pipeline/rpc.py NamedArgument)
_._named_argument  # its compiler, registered by @compiles

# Arguments whose place is fixed by the caller: signal handlers and event listeners.
_.signum, _.sender, _.connection_proxy, _.connection_record, _.transaction, _.executemany

# Tools and tests.
_.settings_table  # webapp/config.py: writes the README's Configuration table
_.restart  # db/embedded.py: tests/test_resilience.py restarts its own server
