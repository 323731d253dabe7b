"""The shell and Flask CLI commands: `flask --app webapp shell`, `python run.py shell`.

Every command runs inside an app context, so `Session`, `current_catalog()` and
`current_models()` work as in a view, and the session is removed when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import FlaskGroup

from db.session import Session

from ..databases import database
from ..models import current_models
from ..state import current_catalog


def install(app: Flask) -> None:
    """Give `flask shell` the Session, the catalog, its tables and its automap classes."""
    app.shell_context_processor(shell_namespace)


def shell_namespace() -> dict[str, Any]:
    """Session, sa, select, catalog, tables, models, database(name), each default-schema table and class."""
    catalog = current_catalog()
    namespace: dict[str, Any] = {
        "Session": Session,
        "database": database,
        "sa": sa,
        "select": sa.select,
        "catalog": catalog,
        "tables": catalog.tables,
    }
    for relation in catalog.in_schema(catalog.default_schema):
        if relation.name.isidentifier():
            namespace.setdefault(relation.name, relation.table)
    try:
        models = current_models()
    except Exception as exc:  # noqa: BLE001 - a schema automap cannot map must not cost the shell
        click.echo(f"no automap classes: {exc}", err=True)
        return namespace
    namespace["models"] = models
    for cls in models:
        namespace.setdefault(cls.__name__, cls)
    return namespace


def run_flask_command(args: list[str], config: Mapping[str, Any] | None = None) -> int:
    """Run a Flask CLI command (shell, routes, a team's own) on a new app; its exit status."""
    from .. import create_app

    app = create_app(config, as_owner=True)  # the operator's commands: the schema owner's rights
    group = FlaskGroup(create_app=lambda: app, load_dotenv=False, set_debug_flag=False)
    try:
        result = group.main(args=args, prog_name="run.py flask", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    finally:
        app.extensions["pgfront"].close()
    return result if isinstance(result, int) else 0
