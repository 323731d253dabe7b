"""Several databases: each one named in DATABASES is served under /db/<name>/.

The API, its OpenAPI document and the HTML pages answer under `/db/<name>/` exactly as
they do at the root for the primary database (DATABASE_URL): the same views and endpoint
names, one more URL rule each. The path's database is taken into `g` before the view runs,
so `current_catalog()` and the request's Session follow it, and `url_for` inside such a
request keeps every link in the same database. A hand-written view picks a database by
name with `database("reports")`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, url_for

from .errors import ApiError
from .state import Database, app_state

PREFIX = "/db/<database>"
# The blueprints every database gets; health, metrics, admin and the team view stay at the root.
SERVED_BLUEPRINTS = frozenset({"openapi", "api", "pages", "rows", "structure", "export"})


def install(app: Flask) -> None:
    """Add a /db/<database> rule for every rule of the served blueprints, with the same endpoint."""
    endpoints = set()
    for rule in list(app.url_map.iter_rules()):
        if rule.endpoint.partition(".")[0] not in SERVED_BLUEPRINTS:
            continue
        endpoints.add(rule.endpoint)
        app.add_url_rule(
            PREFIX + rule.rule,
            endpoint=rule.endpoint,
            methods=rule.methods,
            defaults=rule.defaults,
            strict_slashes=rule.strict_slashes,
            provide_automatic_options=getattr(rule, "provide_automatic_options", None),
        )

    @app.url_value_preprocessor
    def take_database(endpoint: str | None, values: dict[str, Any] | None) -> None:
        """/db/<name>/...: remember the database for this request; 404 for a name not served."""
        if not values or "database" not in values:
            return
        name = values.pop("database")
        if name not in app_state().databases:
            raise ApiError(
                404,
                f"database {name!r} is not served",
                hint="the index (/) lists the databases that are",
            )
        g.database_name = name

    @app.url_defaults
    def stay_in_database(endpoint: str, values: dict[str, Any]) -> None:
        """url_for in a /db/<name>/ request links within that database (database=None: the root)."""
        name = g.get("database_name")
        if name is not None and endpoint in endpoints and "database" not in values:
            values["database"] = name

    @app.context_processor
    def database_name() -> dict[str, Any]:
        """Templates say which database a page shows (None: the primary)."""
        return {"database_name": g.get("database_name")}


def database(name: str) -> Database:
    """A served database by name ("main" is DATABASE_URL's): .catalog, .engine, .session().

    with database("reports").session() as session:
        orders = database("reports").catalog.tables["sales.orders"]
        session.execute(sa.select(orders))
    """
    return app_state().database(name)


def api_root() -> str:
    """Where the API of this request's database answers: /api, or /db/<name>/api."""
    name = g.get("database_name")
    return "/api" if name is None else f"/db/{name}/api"


def database_entries(current: Database) -> list[dict[str, Any]]:
    """Every served database for the index: name, URL, relations, and whether it is this one."""
    return [
        {
            "name": each.name,
            "url": url_for("pages.index", database=None if each.is_primary else each.name),
            "relations": len(each.catalog.relations),
            "current": each is current,
        }
        for each in app_state().every_database
    ]
